{{/* The bundled NATS JetStream servers (nats.mode bundled), rendered by this chart (no subchart). */}}

{{- define "mss.nats.headlessName" -}}
{{- include "mss.resourceName" (dict "ctx" . "component" "nats-headless") -}}
{{- end -}}

{{/* nats-server configuration: JetStream on the claim, routes between the pods of the StatefulSet. */}}
{{- define "mss.nats.config" -}}
{{- $name := include "mss.resourceName" (dict "ctx" . "component" "nats") -}}
{{- $headless := include "mss.nats.headlessName" . -}}
{{- $replicas := int .Values.nats.replicas -}}
# Every server is named after its pod: KEDA finds a consumer's leader by <server>.<headless service>.
server_name: $SERVER_NAME
listen: 0.0.0.0:4222
http_port: 8222
pid_file: /var/run/nats/nats.pid
# Bodies up to 32 MiB travel inline in MSS_BLOBS.
max_payload: {{ printf "%d" (int64 .Values.nats.maxPayload) }}
max_pending: {{ printf "%d" (mul 2 (int64 .Values.nats.maxPayload)) }}
lame_duck_grace_period: 10s
lame_duck_duration: 30s
jetstream {
  store_dir: /data
  max_file_store: {{ .Values.nats.jetstream.storageSize }}
  max_memory_store: {{ .Values.nats.jetstream.maxMemoryStore }}
  sync_interval: {{ .Values.nats.jetstream.syncInterval }}
}
{{- if gt $replicas 1 }}
cluster {
  name: {{ $name }}
  listen: 0.0.0.0:6222
  no_advertise: true
  connect_retries: 120
  routes: [
    {{- range $i := until $replicas }}
    nats://{{ $name }}-{{ $i }}.{{ $headless }}.{{ $.Release.Namespace }}.svc.cluster.local:6222
    {{- end }}
  ]
}
{{- end }}
{{- end -}}
