{{/* What the policy component adds to the shared objects (see _workload.tpl). */}}

{{/* The patient hash key, shared with tracing. */}}
{{- define "mss.policy.env" -}}
{{ include "mss.patientHashKey.env" . }}
{{- end -}}

{{- define "mss.policy.ports" -}}
{{- end -}}

{{- define "mss.policy.volumes" -}}
{{- end -}}

{{- define "mss.policy.volumeMounts" -}}
{{- end -}}

{{/* Policy answers over NATS only: nothing comes in but metrics. */}}
{{- define "mss.policy.ingressRules" -}}
{{- end -}}

{{/* HTTPS out: the ANS allowed-domain list and its checksum. */}}
{{- define "mss.policy.egressRules" -}}
- ports:
    - protocol: TCP
      port: 443
{{- end -}}
