{{/* What the directory component adds to the shared objects (see _workload.tpl). */}}

{{/* The admin API tokens. */}}
{{- define "mss.directory.env" -}}
MSS_DIRECTORY_ADMIN_TOKENS:
  valueFrom:
    secretKeyRef:
      name: {{ include "mss.adminTokens.secretName" .ctx }}
      key: {{ .ctx.Values.adminTokens.tokensKey }}
{{- end -}}

{{- define "mss.directory.ports" -}}
{{- end -}}

{{- define "mss.directory.volumes" -}}
{{- end -}}

{{- define "mss.directory.volumeMounts" -}}
{{- end -}}

{{/* The controller calls the admin API. */}}
{{- define "mss.directory.ingressRules" -}}
{{- if .ctx.Values.controller.enabled -}}
- ports:
    - protocol: TCP
      port: http
  from:
    - podSelector:
        matchLabels:
          {{- include "mss.selectorLabels" (dict "ctx" .ctx "component" "controller") | nindent 10 }}
{{- end -}}
{{- end -}}

{{/* HTTPS out: the national directory (Annuaire Santé) and the identity provider (Pro Santé Connect). */}}
{{- define "mss.directory.egressRules" -}}
- ports:
    - protocol: TCP
      port: 443
{{- end -}}
