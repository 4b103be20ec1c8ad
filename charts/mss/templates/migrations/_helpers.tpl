{{/* The database schema migrations (`python -m mss.db migrate`, which reads MSS_DATABASE_URL). */}}

{{- define "mss.migrations.env" -}}
- name: MSS_DATABASE_URL
  valueFrom:
    secretKeyRef:
      {{- include "mss.postgresql.urlSecret" . | fromJson | toYaml | nindent 6 }}
- name: MSS_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
{{- range $name, $body := include "mss.postgresql.tlsEnv" . | fromYaml }}
- name: {{ $name }}
  {{- toYaml $body | nindent 2 }}
{{- end }}
{{- end -}}
