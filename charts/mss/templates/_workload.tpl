{{/*
The objects every component has, rendered from its values key. Each takes
(dict "ctx" $ "component" "<name>"); the component's folder supplies what differs through the templates
mss.<component>.env, .ports, .volumes, .volumeMounts, .ingressRules and .egressRules (its _helpers.tpl).
*/}}

{{/* Whether something else than a fixed replica count sizes the component: "true" or "". */}}
{{- define "mss.autoscaled" -}}
{{- $values := index .ctx.Values .component -}}
{{- if or $values.autoscaling.enabled (and $values.keda $values.keda.enabled) }}true{{ end -}}
{{- end -}}

{{/* The Deployment. */}}
{{- define "mss.deployment" -}}
{{- $ctx := .ctx -}}
{{- $values := index $ctx.Values .component -}}
{{- $http := int $values.service.ports.http -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "mss.resourceName" . }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "mss.labels" . | nindent 4 }}
spec:
  {{- if not (include "mss.autoscaled" .) }}
  replicas: {{ $values.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "mss.selectorLabels" . | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 25%
      maxUnavailable: 0
  template:
    metadata:
      labels:
        {{- include "mss.selectorLabels" . | nindent 8 }}
      {{- with $values.podAnnotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      serviceAccountName: {{ include (printf "mss.%s.serviceAccountName" (ternary "controller" "services" (eq .component "controller"))) $ctx }}
      automountServiceAccountToken: {{ eq .component "controller" }}
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ $values.terminationGracePeriodSeconds }}
      securityContext:
        {{- include "mss.podSecurityContext" $ctx | nindent 8 }}
      {{- with $ctx.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- if and (include "mss.usesDatabase" .) $ctx.Values.migrations.enabled (eq $ctx.Values.postgresql.mode "cloudnativepg") }}
      initContainers:
        # The first install creates the CloudNativePG Cluster with the release, after the pre-install
        # hooks: the schema is migrated here (idempotent, serialised by an advisory lock).
        - name: migrate
          image: {{ include "mss.image" . }}
          imagePullPolicy: {{ include "mss.imagePullPolicy" . }}
          command: ["python", "-m", "mss.db", "migrate"]
          env:
            {{- include "mss.migrations.env" $ctx | nindent 12 }}
          securityContext:
            {{- include "mss.containerSecurityContext" $ctx | nindent 12 }}
          resources:
            {{- toYaml $ctx.Values.migrations.resources | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- with include "mss.postgresql.caVolumeMount" $ctx }}
            {{- . | nindent 12 }}
            {{- end }}
      {{- end }}
      containers:
        - name: {{ .component }}
          image: {{ include "mss.image" . }}
          imagePullPolicy: {{ include "mss.imagePullPolicy" . }}
          command: ["python", "-m", "mss.{{ .component }}"]
          env:
            {{- include "mss.env" . | trim | nindent 12 }}
          {{- $ports := include (printf "mss.%s.ports" .component) . }}
          {{- if or $http $ports }}
          ports:
            {{- if $http }}
            - name: http
              containerPort: {{ $http }}
              protocol: TCP
            {{- end }}
            {{- with $ports }}
            {{- . | nindent 12 }}
            {{- end }}
          {{- end }}
          {{- if $http }}
          startupProbe:
            httpGet:
              path: /healthz
              port: http
            periodSeconds: {{ $ctx.Values.probes.periodSeconds }}
            timeoutSeconds: {{ $ctx.Values.probes.timeoutSeconds }}
            failureThreshold: {{ $ctx.Values.probes.startupFailureThreshold }}
          livenessProbe:
            httpGet:
              path: /healthz
              port: http
            periodSeconds: {{ $ctx.Values.probes.periodSeconds }}
            timeoutSeconds: {{ $ctx.Values.probes.timeoutSeconds }}
            failureThreshold: {{ $ctx.Values.probes.livenessFailureThreshold }}
          readinessProbe:
            httpGet:
              path: /readyz
              port: http
            periodSeconds: {{ $ctx.Values.probes.periodSeconds }}
            timeoutSeconds: {{ $ctx.Values.probes.timeoutSeconds }}
            failureThreshold: {{ $ctx.Values.probes.readinessFailureThreshold }}
          {{- end }}
          securityContext:
            {{- include "mss.containerSecurityContext" $ctx | nindent 12 }}
          resources:
            {{- toYaml $values.resources | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- with include (printf "mss.%s.volumeMounts" .component) . }}
            {{- . | nindent 12 }}
            {{- end }}
            {{- if include "mss.usesDatabase" . }}
            {{- with include "mss.postgresql.caVolumeMount" $ctx }}
            {{- . | nindent 12 }}
            {{- end }}
            {{- end }}
            {{- with $values.extraVolumeMounts }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: 64Mi
        {{- with include (printf "mss.%s.volumes" .component) . }}
        {{- . | nindent 8 }}
        {{- end }}
        {{- if include "mss.usesDatabase" . }}
        {{- with include "mss.postgresql.caVolume" $ctx }}
        {{- . | nindent 8 }}
        {{- end }}
        {{- end }}
        {{- with $values.extraVolumes }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with include "mss.topologySpread" . }}
      {{- . | nindent 6 }}
      {{- end }}
      {{- with $values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $values.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end -}}

{{/* The ClusterIP Service of the HTTP port (health, metrics, and the API of directory and tracing). */}}
{{- define "mss.service" -}}
{{- $values := index .ctx.Values .component -}}
{{- if $values.service.ports.http -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "mss.resourceName" . }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "mss.labels" . | nindent 4 }}
  {{- with $values.service.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: ClusterIP
  selector:
    {{- include "mss.selectorLabels" . | nindent 4 }}
  ports:
    - name: http
      port: {{ $values.service.ports.http }}
      targetPort: http
      protocol: TCP
{{- end -}}
{{- end -}}

{{/* The PodDisruptionBudget. */}}
{{- define "mss.pdb" -}}
{{- $values := index .ctx.Values .component -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "mss.resourceName" . }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "mss.labels" . | nindent 4 }}
spec:
  maxUnavailable: {{ $values.podDisruptionBudget.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "mss.selectorLabels" . | nindent 6 }}
{{- end -}}

{{/* The HorizontalPodAutoscaler on CPU, when autoscaling is on and KEDA is not. */}}
{{- define "mss.hpa" -}}
{{- $values := index .ctx.Values .component -}}
{{- if and $values.autoscaling.enabled (not (and $values.keda $values.keda.enabled)) -}}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "mss.resourceName" . }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "mss.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "mss.resourceName" . }}
  minReplicas: {{ $values.autoscaling.minReplicas }}
  maxReplicas: {{ $values.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $values.autoscaling.targetCPUUtilizationPercentage }}
  behavior:
    scaleDown:
      stabilizationWindowSeconds: 300
{{- end -}}
{{- end -}}

{{/* The KEDA ScaledObject of a worker: JetStream consumer lag, and CPU when autoscaling is on. */}}
{{- define "mss.scaledobject" -}}
{{- $ctx := .ctx -}}
{{- $values := index $ctx.Values .component -}}
{{- if $values.keda.enabled -}}
{{- $endpoint := $ctx.Values.nats.monitoringEndpoint -}}
{{- if eq $ctx.Values.nats.mode "bundled" -}}
{{- $endpoint = printf "%s.%s.svc.cluster.local:8222" (include "mss.resourceName" (dict "ctx" $ctx "component" "nats-headless")) $ctx.Release.Namespace -}}
{{- else if not $endpoint -}}
{{- fail (printf "%s.keda.enabled with nats.mode external needs nats.monitoringEndpoint" .component) -}}
{{- end -}}
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: {{ include "mss.resourceName" . }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "mss.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "mss.resourceName" . }}
  minReplicaCount: {{ $values.autoscaling.minReplicas }}
  maxReplicaCount: {{ $values.autoscaling.maxReplicas }}
  pollingInterval: {{ $values.keda.pollingInterval }}
  cooldownPeriod: {{ $values.keda.cooldownPeriod }}
  triggers:
    - type: nats-jetstream
      metadata:
        natsServerMonitoringEndpoint: {{ $endpoint | quote }}
        account: "$G"
        stream: {{ $values.keda.stream | quote }}
        consumer: {{ $values.keda.consumer | quote }}
        lagThreshold: {{ $values.keda.lagThreshold | quote }}
        activationLagThreshold: {{ $values.keda.activationLagThreshold | quote }}
        useHttps: "false"
    {{- if $values.autoscaling.enabled }}
    - type: cpu
      metricType: Utilization
      metadata:
        value: {{ $values.autoscaling.targetCPUUtilizationPercentage | quote }}
    {{- end }}
{{- end -}}
{{- end -}}

{{/* The prometheus-operator ServiceMonitor of the HTTP port. */}}
{{- define "mss.servicemonitor" -}}
{{- $ctx := .ctx -}}
{{- if and $ctx.Values.serviceMonitor.enabled (index $ctx.Values .component).service.ports.http -}}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "mss.resourceName" . }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "mss.labels" . | nindent 4 }}
    {{- with $ctx.Values.serviceMonitor.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "mss.selectorLabels" . | nindent 6 }}
  namespaceSelector:
    matchNames:
      - {{ $ctx.Release.Namespace }}
  endpoints:
    - port: http
      path: /metrics
      interval: {{ $ctx.Values.serviceMonitor.interval }}
      scrapeTimeout: {{ $ctx.Values.serviceMonitor.scrapeTimeout }}
{{- end -}}
{{- end -}}

{{/*
The NetworkPolicy of a component: metrics from the monitoring peers, DNS, NATS (all but the controller),
PostgreSQL (directory, storage, tracing), OTLP when set, then the component's own rules and extras.
*/}}
{{- define "mss.networkpolicy" -}}
{{- $ctx := .ctx -}}
{{- $values := index $ctx.Values .component -}}
{{- if $ctx.Values.networkPolicy.enabled -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "mss.resourceName" . }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "mss.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "mss.selectorLabels" . | nindent 6 }}
  policyTypes: [Ingress, Egress]
  {{- $rules := include (printf "mss.%s.ingressRules" .component) . }}
  {{- if or $values.service.ports.http $rules $values.networkPolicy.extraIngress }}
  ingress:
    {{- if $values.service.ports.http }}
    - ports:
        - protocol: TCP
          port: http
      {{- with $ctx.Values.networkPolicy.monitoringPeers }}
      from:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    {{- end }}
    {{- with $rules }}
    {{- . | nindent 4 }}
    {{- end }}
    {{- with $values.networkPolicy.extraIngress }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- else }}
  ingress: []
  {{- end }}
  egress:
    {{- include "mss.networkPolicy.dnsEgress" $ctx | nindent 4 }}
    {{- if include "mss.usesNats" . }}
    {{- include "mss.networkPolicy.natsEgress" $ctx | nindent 4 }}
    {{- with include "mss.networkPolicy.otlpEgress" $ctx }}
    {{- . | nindent 4 }}
    {{- end }}
    {{- end }}
    {{- if include "mss.usesDatabase" . }}
    {{- include "mss.networkPolicy.postgresqlEgress" $ctx | nindent 4 }}
    {{- end }}
    {{- with include (printf "mss.%s.egressRules" .component) . }}
    {{- . | nindent 4 }}
    {{- end }}
    {{- with $values.networkPolicy.extraEgress }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end -}}
{{- end -}}
