{{/* What the egress component adds to the shared objects (see _workload.tpl). */}}

{{/* The client certificate presented to other operators. */}}
{{- define "mss.egress.env" -}}
{{ include "mss.tls.env" . }}
{{- end -}}

{{- define "mss.egress.ports" -}}
{{- end -}}

{{- define "mss.egress.volumes" -}}
{{ include "mss.tls.volumes" . }}
{{- end -}}

{{- define "mss.egress.volumeMounts" -}}
{{ include "mss.tls.volumeMounts" . }}
{{- end -}}

{{/* Egress works from NATS only: nothing comes in but metrics. */}}
{{- define "mss.egress.ingressRules" -}}
{{- end -}}

{{/* SMTP to anywhere: MX of other operators and establishments' servers. */}}
{{- define "mss.egress.egressRules" -}}
- ports:
    {{- range .ctx.Values.egress.smtpPorts }}
    - protocol: TCP
      port: {{ . }}
    {{- end }}
{{- end -}}
