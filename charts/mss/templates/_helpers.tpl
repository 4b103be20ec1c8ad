{{/*
Helpers shared by every component. Those about one component take (dict "ctx" $ "component" "<name>").
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "mss.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The prefix of every resource: fullnameOverride, else <release>-<chart> (the release alone when it contains the chart name). */}}
{{- define "mss.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* <fullname>-<component>: the name of a component's resources. */}}
{{- define "mss.resourceName" -}}
{{- printf "%s-%s" (include "mss.fullname" .ctx) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Chart label value. */}}
{{- define "mss.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels that select a component's pods (name, instance, component). */}}
{{- define "mss.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mss.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- if .component }}
app.kubernetes.io/component: {{ .component }}
{{- end }}
{{- end -}}

{{/* Labels of every resource of a component. */}}
{{- define "mss.labels" -}}
helm.sh/chart: {{ include "mss.chart" .ctx }}
{{ include "mss.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: mss
{{- end -}}

{{/* The image of a component: its own image values, else the global ones, else the chart appVersion. */}}
{{- define "mss.image" -}}
{{- $own := (index .ctx.Values .component).image | default dict -}}
{{- $repository := $own.repository | default .ctx.Values.image.repository -}}
{{- $tag := $own.tag | default .ctx.Values.image.tag | default .ctx.Chart.AppVersion -}}
{{- printf "%s:%s" $repository (toString $tag) -}}
{{- end -}}

{{/* The pull policy of a component's image. */}}
{{- define "mss.imagePullPolicy" -}}
{{- $own := (index .ctx.Values .component).image | default dict -}}
{{- $own.pullPolicy | default .ctx.Values.image.pullPolicy -}}
{{- end -}}

{{/* The components that use PostgreSQL (MSS_<COMPONENT>_DATABASE_URL). */}}
{{- define "mss.databaseComponents" -}}
{{- toJson (list "directory" "storage" "tracing") -}}
{{- end -}}

{{/* Whether a component uses PostgreSQL: "true" or "". */}}
{{- define "mss.usesDatabase" -}}
{{- if has .component (include "mss.databaseComponents" . | fromJsonArray) }}true{{ end -}}
{{- end -}}

{{/* Whether a component talks to NATS: every service but the controller. */}}
{{- define "mss.usesNats" -}}
{{- if ne .component "controller" }}true{{ end -}}
{{- end -}}

{{/* The client URL of the bundled NATS servers. */}}
{{- define "mss.nats.bundledUrl" -}}
{{- printf "nats://%s.%s.svc:4222" (include "mss.resourceName" (dict "ctx" . "component" "nats")) .Release.Namespace -}}
{{- end -}}

{{/* The Secret (name and key) holding the PostgreSQL URL, as JSON {name, key}. */}}
{{- define "mss.postgresql.urlSecret" -}}
{{- if eq .Values.postgresql.mode "cloudnativepg" -}}
{{- toJson (dict "name" (printf "%s-app" (include "mss.resourceName" (dict "ctx" . "component" "postgresql"))) "key" "uri") -}}
{{- else if eq .Values.postgresql.mode "external" -}}
{{- if not .Values.postgresql.urlSecret.name -}}
{{- fail "postgresql.mode external needs postgresql.urlSecret.name: a Secret holding the PostgreSQL URL" -}}
{{- end -}}
{{- toJson (dict "name" .Values.postgresql.urlSecret.name "key" .Values.postgresql.urlSecret.key) -}}
{{- else -}}
{{- fail (printf "postgresql.mode must be cloudnativepg or external, not %q" .Values.postgresql.mode) -}}
{{- end -}}
{{- end -}}

{{/* Replicas of the streams a service owns: nats.streamReplicas, else the bundled servers up to 3, else 1. */}}
{{- define "mss.nats.streamReplicas" -}}
{{- $replicas := int .Values.nats.streamReplicas -}}
{{- if not $replicas -}}
{{- $replicas = ternary (min (int .Values.nats.replicas) 3) 1 (eq .Values.nats.mode "bundled") -}}
{{- end -}}
{{- printf "%d" $replicas -}}
{{- end -}}

{{/* Whether the PostgreSQL server certificate is checked against the CloudNativePG CA: "true" or "". */}}
{{- define "mss.postgresql.verify" -}}
{{- if and (eq .Values.postgresql.mode "cloudnativepg") .Values.postgresql.cluster.verifyServerCertificate }}true{{ end -}}
{{- end -}}

{{/* libpq variables (read by asyncpg) that make the connection verify the server, as a YAML map. */}}
{{- define "mss.postgresql.tlsEnv" -}}
{{- if include "mss.postgresql.verify" . -}}
PGSSLMODE:
  value: verify-full
PGSSLROOTCERT:
  value: /etc/mss/postgresql-ca/ca.crt
{{- end -}}
{{- end -}}

{{/* The CA of the CloudNativePG cluster (the Secret <cluster>-ca; only its certificate is mounted). */}}
{{- define "mss.postgresql.caVolume" -}}
{{- if include "mss.postgresql.verify" . -}}
- name: postgresql-ca
  secret:
    secretName: {{ include "mss.resourceName" (dict "ctx" . "component" "postgresql") }}-ca
    defaultMode: 292  # 0444
    items:
      - key: ca.crt
        path: ca.crt
{{- end -}}
{{- end -}}

{{- define "mss.postgresql.caVolumeMount" -}}
{{- if include "mss.postgresql.verify" . -}}
- name: postgresql-ca
  mountPath: /etc/mss/postgresql-ca
  readOnly: true
{{- end -}}
{{- end -}}

{{/* The Secret of the admin tokens. */}}
{{- define "mss.adminTokens.secretName" -}}
{{- .Values.adminTokens.existingSecret | default (printf "%s-admin-tokens" (include "mss.fullname" .)) -}}
{{- end -}}

{{/* The TLS values of a component: `tls` overridden by <component>.tls, as YAML. */}}
{{- define "mss.tls" -}}
{{- $global := deepCopy .ctx.Values.tls -}}
{{- $own := (index .ctx.Values .component).tls | default dict -}}
{{- $tls := mergeOverwrite $global (deepCopy $own) -}}
{{- $_ := set $tls.certificate "secretName" ($tls.certificate.secretName | default (printf "%s-tls" (include "mss.fullname" .ctx))) -}}
{{- $_ := set $tls.ca "secretName" ($tls.ca.secretName | default $tls.certificate.secretName) -}}
{{- toYaml $tls -}}
{{- end -}}

{{/* Volumes of a component's TLS Secrets, mounted whole (never subPath) so that updates reach the pod. */}}
{{- define "mss.tls.volumes" -}}
{{- $tls := include "mss.tls" . | fromYaml -}}
- name: tls-certificate
  secret:
    secretName: {{ $tls.certificate.secretName }}
    defaultMode: 288  # 0440: the private key is readable by the pod's group (fsGroup) only
    items:
      - key: {{ $tls.certificate.certKey }}
        path: tls.crt
      - key: {{ $tls.certificate.keyKey }}
        path: tls.key
- name: tls-ca
  secret:
    secretName: {{ $tls.ca.secretName }}
    defaultMode: 292  # 0444
    items:
      - key: {{ $tls.ca.key }}
        path: ca.crt
{{- if $tls.crl.secretName }}
- name: tls-crl
  secret:
    secretName: {{ $tls.crl.secretName }}
    defaultMode: 292  # 0444
    items:
      - key: {{ $tls.crl.key }}
        path: crl.pem
{{- end }}
{{- end -}}

{{/* Mounts of those volumes. */}}
{{- define "mss.tls.volumeMounts" -}}
{{- $tls := include "mss.tls" . | fromYaml -}}
- name: tls-certificate
  mountPath: /etc/mss/tls/certificate
  readOnly: true
- name: tls-ca
  mountPath: /etc/mss/tls/ca
  readOnly: true
{{- if $tls.crl.secretName }}
- name: tls-crl
  mountPath: /etc/mss/tls/crl
  readOnly: true
{{- end }}
{{- end -}}

{{/* MSS_<COMPONENT>_TLS_* variables pointing at those files, as a YAML map name → EnvVar body. */}}
{{- define "mss.tls.env" -}}
{{- $tls := include "mss.tls" . | fromYaml -}}
{{- $p := printf "MSS_%s_" (upper .component) -}}
{{ $p }}TLS_CERT_FILE:
  value: /etc/mss/tls/certificate/tls.crt
{{ $p }}TLS_KEY_FILE:
  value: /etc/mss/tls/certificate/tls.key
{{ $p }}TLS_CA_FILE:
  value: /etc/mss/tls/ca/ca.crt
{{- if $tls.crl.secretName }}
{{ $p }}TLS_CRL_FILE:
  value: /etc/mss/tls/crl/crl.pem
{{- end }}
{{- end -}}

{{/*
The environment of a component, as an EnvVar list sorted by name. Later sources replace earlier ones:
the shared variables (NATS, HTTP endpoint, log level, OTLP, PostgreSQL), then the component's own
(template "mss.<component>.env"), then its `config` map, then its `extraEnv`.
*/}}
{{- define "mss.env" -}}
{{- $ctx := .ctx -}}
{{- $values := index $ctx.Values .component -}}
{{- $p := printf "MSS_%s_" (upper .component) -}}
{{- $env := dict -}}
{{- if $values.service.ports.http -}}
{{- $_ := set $env (print $p "HTTP_HOST") (dict "value" "0.0.0.0") -}}
{{- $_ := set $env (print $p "HTTP_PORT") (dict "value" (printf "%d" (int $values.service.ports.http))) -}}
{{- end -}}
{{- $_ := set $env (print $p "LOG_LEVEL") (dict "value" $ctx.Values.logLevel) -}}
{{- if include "mss.usesNats" . -}}
{{- if eq $ctx.Values.nats.mode "bundled" -}}
{{- $_ := set $env (print $p "NATS_URL") (dict "value" (include "mss.nats.bundledUrl" $ctx)) -}}
{{- else if eq $ctx.Values.nats.mode "external" -}}
{{- if $ctx.Values.nats.urlSecret.name -}}
{{- $_ := set $env (print $p "NATS_URL") (dict "valueFrom" (dict "secretKeyRef" (dict "name" $ctx.Values.nats.urlSecret.name "key" $ctx.Values.nats.urlSecret.key))) -}}
{{- else if $ctx.Values.nats.url -}}
{{- $_ := set $env (print $p "NATS_URL") (dict "value" $ctx.Values.nats.url) -}}
{{- else -}}
{{- fail "nats.mode external needs nats.url or nats.urlSecret.name" -}}
{{- end -}}
{{- else -}}
{{- fail (printf "nats.mode must be bundled or external, not %q" $ctx.Values.nats.mode) -}}
{{- end -}}
{{- if $ctx.Values.otlp.endpoint -}}
{{- $_ := set $env (print $p "OTLP_ENDPOINT") (dict "value" $ctx.Values.otlp.endpoint) -}}
{{- end -}}
{{- $_ := set $env (print $p "STREAM_REPLICAS") (dict "value" (include "mss.nats.streamReplicas" $ctx)) -}}
{{- end -}}
{{- if include "mss.usesDatabase" . -}}
{{- $secret := include "mss.postgresql.urlSecret" $ctx | fromJson -}}
{{- $_ := set $env (print $p "DATABASE_URL") (dict "valueFrom" (dict "secretKeyRef" $secret)) -}}
{{- range $name, $body := include "mss.postgresql.tlsEnv" $ctx | fromYaml -}}
{{- $_ := set $env $name $body -}}
{{- end -}}
{{- end -}}
{{- if and $ctx.Values.mailHostname (has .component (list "ingress" "egress" "storage")) -}}
{{- $_ := set $env (print $p "HOSTNAME") (dict "value" $ctx.Values.mailHostname) -}}
{{- end -}}
{{- $own := include (printf "mss.%s.env" .component) . | fromYaml -}}
{{- range $name, $body := $own -}}
{{- $_ := set $env $name $body -}}
{{- end -}}
{{- range $key, $value := $values.config -}}
{{- $_ := set $env (print $p (upper $key)) (dict "value" (ternary $value (toJson $value) (kindIs "string" $value))) -}}
{{- end -}}
{{- range $values.extraEnv -}}
{{- $_ := set $env .name (omit . "name") -}}
{{- end -}}
{{- range $name := keys $env | sortAlpha }}
- name: {{ $name }}
  {{- toYaml (get $env $name) | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Security context of the pods. */}}
{{- define "mss.podSecurityContext" -}}
{{- toYaml .Values.podSecurityContext -}}
{{- end -}}

{{/* Security context of the containers. */}}
{{- define "mss.containerSecurityContext" -}}
{{- toYaml .Values.containerSecurityContext -}}
{{- end -}}

{{/* Spread a component's pods across zones and nodes. */}}
{{- define "mss.topologySpread" -}}
{{- if .ctx.Values.topologySpread.enabled -}}
topologySpreadConstraints:
{{- range $key := list "topology.kubernetes.io/zone" "kubernetes.io/hostname" }}
  - topologyKey: {{ $key }}
    maxSkew: {{ $.ctx.Values.topologySpread.maxSkew }}
    whenUnsatisfiable: {{ $.ctx.Values.topologySpread.whenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- include "mss.selectorLabels" $ | nindent 8 }}
{{- if ne $.component "nats" }}
    matchLabelKeys:
      - pod-template-hash
{{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/* The PostgreSQL peers and port of the NetworkPolicies, as one NetworkPolicyEgressRule. */}}
{{- define "mss.networkPolicy.postgresqlEgress" -}}
- ports:
    - protocol: TCP
      port: {{ .Values.postgresql.port }}
{{- if eq .Values.postgresql.mode "cloudnativepg" }}
  to:
    - podSelector:
        matchLabels:
          cnpg.io/cluster: {{ include "mss.resourceName" (dict "ctx" . "component" "postgresql") }}
{{- else if .Values.postgresql.peers }}
  to:
    {{- toYaml .Values.postgresql.peers | nindent 4 }}
{{- end }}
{{- end -}}

{{/* The DNS rule of every NetworkPolicy. */}}
{{- define "mss.networkPolicy.dnsEgress" -}}
- ports:
    - protocol: UDP
      port: 53
    - protocol: TCP
      port: 53
{{- with .Values.networkPolicy.dnsPeers }}
  to:
    {{- toYaml . | nindent 4 }}
{{- end }}
{{- end -}}

{{/* The NATS client rule of every NetworkPolicy. */}}
{{- define "mss.networkPolicy.natsEgress" -}}
{{- if eq .Values.nats.mode "bundled" -}}
- ports:
    - protocol: TCP
      port: 4222
  to:
    - podSelector:
        matchLabels:
          {{- include "mss.selectorLabels" (dict "ctx" . "component" "nats") | nindent 10 }}
{{- else -}}
- ports:
    - protocol: TCP
      port: {{ .Values.nats.port }}
{{- with .Values.nats.peers }}
  to:
    {{- toYaml . | nindent 4 }}
{{- end }}
{{- end -}}
{{- end -}}

{{/* The OTLP rule, when traces are exported. */}}
{{- define "mss.networkPolicy.otlpEgress" -}}
{{- if .Values.otlp.endpoint -}}
- ports:
    - protocol: TCP
      port: {{ .Values.otlp.port }}
{{- with .Values.otlp.peers }}
  to:
    {{- toYaml . | nindent 4 }}
{{- end }}
{{- end -}}
{{- end -}}
