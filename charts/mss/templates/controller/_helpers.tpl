{{/* What the controller adds to the shared objects (see _workload.tpl). */}}

{{/* The directory's admin API, the controller's token, and the namespace it watches. */}}
{{- define "mss.controller.env" -}}
{{- $directory := dict "ctx" .ctx "component" "directory" -}}
MSS_CONTROLLER_ADMIN_URL:
  value: {{ printf "http://%s.%s.svc:%d" (include "mss.resourceName" $directory) .ctx.Release.Namespace (int .ctx.Values.directory.service.ports.http) | quote }}
MSS_CONTROLLER_ADMIN_TOKEN:
  valueFrom:
    secretKeyRef:
      name: {{ include "mss.adminTokens.secretName" .ctx }}
      key: {{ .ctx.Values.adminTokens.controllerKey }}
MSS_CONTROLLER_NAMESPACE:
  value: {{ include "mss.controller.namespace" .ctx | quote }}
{{- end -}}

{{/* The namespace whose MssTenant resources are reconciled. */}}
{{- define "mss.controller.namespace" -}}
{{- .Values.controller.watchNamespace | default .Release.Namespace -}}
{{- end -}}

{{- define "mss.controller.serviceAccountName" -}}
{{- include "mss.resourceName" (dict "ctx" . "component" "controller") -}}
{{- end -}}

{{- define "mss.controller.ports" -}}
{{- end -}}

{{- define "mss.controller.volumes" -}}
{{- end -}}

{{- define "mss.controller.volumeMounts" -}}
{{- end -}}

{{/* Nothing comes in but metrics. */}}
{{- define "mss.controller.ingressRules" -}}
{{- end -}}

{{/* The directory's admin API and the Kubernetes API server (no NATS, no PostgreSQL). */}}
{{- define "mss.controller.egressRules" -}}
- ports:
    - protocol: TCP
      port: {{ .ctx.Values.directory.service.ports.http }}
  to:
    - podSelector:
        matchLabels:
          {{- include "mss.selectorLabels" (dict "ctx" .ctx "component" "directory") | nindent 10 }}
- ports:
    {{- range .ctx.Values.controller.kubeApiPorts }}
    - protocol: TCP
      port: {{ . }}
    {{- end }}
{{- with .ctx.Values.controller.kubeApiPeers }}
  to:
    {{- toYaml . | nindent 4 }}
{{- end }}
{{- end -}}
