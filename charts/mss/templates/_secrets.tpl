{{/* The ServiceAccount of the services (not the controller). */}}
{{- define "mss.services.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "mss.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{/* MSS_<COMPONENT>_PATIENT_HASH_KEY from its Secret, when one is named (policy and tracing). */}}
{{- define "mss.patientHashKey.env" -}}
{{- with .ctx.Values.patientHashKey.secretName -}}
{{ printf "MSS_%s_PATIENT_HASH_KEY" (upper $.component) }}:
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.ctx.Values.patientHashKey.key }}
{{- end -}}
{{- end -}}
