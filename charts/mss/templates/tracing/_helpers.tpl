{{/* What the tracing component adds to the shared objects (see _workload.tpl). */}}

{{/* The export signing key (a mounted file) and the patient hash key shared with policy. */}}
{{- define "mss.tracing.env" -}}
{{- if .ctx.Values.tracing.exportKey.secretName }}
MSS_TRACING_EXPORT_KEY_FILE:
  value: /etc/mss/export-key/export-key.pem
{{- end }}
{{ include "mss.patientHashKey.env" . }}
{{- end -}}

{{- define "mss.tracing.ports" -}}
{{- end -}}

{{- define "mss.tracing.volumes" -}}
{{- with .ctx.Values.tracing.exportKey.secretName -}}
- name: export-key
  secret:
    secretName: {{ . }}
    defaultMode: 288  # 0440
    items:
      - key: {{ $.ctx.Values.tracing.exportKey.key }}
        path: export-key.pem
{{- end -}}
{{- end -}}

{{- define "mss.tracing.volumeMounts" -}}
{{- if .ctx.Values.tracing.exportKey.secretName -}}
- name: export-key
  mountPath: /etc/mss/export-key
  readOnly: true
{{- end -}}
{{- end -}}

{{/* The audit UI and API: from `tracing.networkPolicy.httpFrom`, or anyone (e.g. the Ingress controller). */}}
{{- define "mss.tracing.ingressRules" -}}
- ports:
    - protocol: TCP
      port: http
{{- with .ctx.Values.tracing.networkPolicy.httpFrom }}
  from:
    {{- toYaml . | nindent 4 }}
{{- end }}
{{- end -}}

{{/* Nothing beyond DNS, NATS and PostgreSQL. */}}
{{- define "mss.tracing.egressRules" -}}
{{- end -}}
