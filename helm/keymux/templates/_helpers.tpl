{{/*
Chart name, overridable with nameOverride.
*/}}
{{- define "keymux.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name, truncated to 63 characters (the DNS label limit).
If the release name already contains the chart name it is used as is.
*/}}
{{- define "keymux.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Chart name and version for the helm.sh/chart label.
*/}}
{{- define "keymux.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels.
*/}}
{{- define "keymux.labels" -}}
helm.sh/chart: {{ include "keymux.chart" . }}
{{ include "keymux.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: keymux
{{- end }}

{{/*
Selector labels: stable across upgrades.
*/}}
{{- define "keymux.selectorLabels" -}}
app.kubernetes.io/name: {{ include "keymux.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Name of the ServiceAccount to use.
*/}}
{{- define "keymux.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "keymux.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Container image with the tag defaulting to the appVersion.
*/}}
{{- define "keymux.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
The keymux config file: values.config, with limits.backend set to redis when redis.uri is given.
*/}}
{{- define "keymux.config" -}}
{{- $config := deepCopy (default (dict) .Values.config) }}
{{- if .Values.redis.uri }}
{{- $limits := deepCopy (default (dict) (get $config "limits")) }}
{{- $redis := deepCopy (default (dict) (get $limits "redis")) }}
{{- $_ := set $redis "uri" .Values.redis.uri }}
{{- $_ = set $limits "backend" "redis" }}
{{- $_ = set $limits "redis" $redis }}
{{- $_ = set $config "limits" $limits }}
{{- end }}
{{- toYaml $config }}
{{- end }}

{{/*
Proxy and admin ports inside the container, read from config.server.
*/}}
{{- define "keymux.proxyPort" -}}
{{- dig "server" "port" 8080 (default (dict) .Values.config) }}
{{- end }}

{{- define "keymux.adminPort" -}}
{{- dig "server" "admin_port" 9090 (default (dict) .Values.config) }}
{{- end }}

{{/*
Checksum of existingSecret's name and secretRevision: Kubernetes does not restart pods when a
Secret used through envFrom changes, so bumping secretRevision after rotating keys rolls them.
(A lookup of the Secret's data would need a cluster, which "helm template" and CI do not have.)
*/}}
{{- define "keymux.secretChecksum" -}}
{{- printf "%s/%s" .Values.existingSecret (toString .Values.secretRevision) | sha256sum }}
{{- end }}

{{/*
Namespace of every resource: namespaceOverride, else the release's ("default" when empty).
*/}}
{{- define "keymux.namespace" -}}
{{- default (default "default" .Release.Namespace) .Values.namespaceOverride }}
{{- end }}
