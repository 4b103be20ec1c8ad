{{/* What the storage component adds to the shared objects (see _workload.tpl). */}}

{{- define "mss.storage.env" -}}
{{- end -}}

{{- define "mss.storage.ports" -}}
{{- end -}}

{{- define "mss.storage.volumes" -}}
{{- end -}}

{{- define "mss.storage.volumeMounts" -}}
{{- end -}}

{{/* Storage works from NATS only: nothing comes in but metrics. */}}
{{- define "mss.storage.ingressRules" -}}
{{- end -}}

{{/* Nothing beyond DNS, NATS and PostgreSQL. */}}
{{- define "mss.storage.egressRules" -}}
{{- end -}}
