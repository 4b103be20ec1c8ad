{{/* What the ingress component adds to the shared objects (see _workload.tpl). */}}

{{/* SMTP listeners on all addresses, and the operator certificate. */}}
{{- define "mss.ingress.env" -}}
{{- $smtp := .ctx.Values.ingress.smtp -}}
MSS_INGRESS_SMTP_HOST:
  value: 0.0.0.0
MSS_INGRESS_PEER_PORT:
  value: {{ printf "%d" (int $smtp.peer.containerPort) | quote }}
MSS_INGRESS_SUBMISSION_PORT:
  value: {{ printf "%d" (int $smtp.submission.containerPort) | quote }}
{{ include "mss.tls.env" . }}
{{- end -}}

{{- define "mss.ingress.ports" -}}
{{- $smtp := .ctx.Values.ingress.smtp -}}
- name: smtp-peer
  containerPort: {{ $smtp.peer.containerPort }}
  protocol: TCP
- name: smtp-submission
  containerPort: {{ $smtp.submission.containerPort }}
  protocol: TCP
{{- end -}}

{{- define "mss.ingress.volumes" -}}
{{ include "mss.tls.volumes" . }}
{{- end -}}

{{- define "mss.ingress.volumeMounts" -}}
{{ include "mss.tls.volumeMounts" . }}
{{- end -}}

{{/* SMTP from anywhere: peer operators and establishments' clients. */}}
{{- define "mss.ingress.ingressRules" -}}
{{- $smtp := .ctx.Values.ingress.smtp -}}
- ports:
    - protocol: TCP
      port: {{ $smtp.peer.containerPort }}
    - protocol: TCP
      port: {{ $smtp.submission.containerPort }}
{{- end -}}

{{/* Nothing beyond DNS and NATS (clamd, when used, goes in networkPolicy.extraEgress). */}}
{{- define "mss.ingress.egressRules" -}}
{{- end -}}
