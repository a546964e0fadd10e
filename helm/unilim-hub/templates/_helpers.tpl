{{/* Labels of every object of ours, as Zero to JupyterHub labels its own. */}}
{{- define "unilim-hub.labels" -}}
app.kubernetes.io/name: unilim-hub
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}

{{/* Pods of Zero to JupyterHub's components, by its own labels. */}}
{{- define "unilim-hub.selector" -}}
matchLabels:
  app.kubernetes.io/component: {{ . }}
{{- end }}

{{/* Egress rules to the ipBlocks and TCP ports of one `networkPolicy` entry. */}}
{{- define "unilim-hub.egress" -}}
{{- if .cidrs }}
- to:
    {{- range .cidrs }}
    - ipBlock:
        cidr: {{ . }}
    {{- end }}
  ports:
    {{- range .ports }}
    - protocol: TCP
      port: {{ . }}
    {{- end }}
{{- end }}
{{- end }}

{{/* Argo CD applies these before Zero to JupyterHub's hub (wave 0): the hub starts with its
rights, its quota and its priority class already there. */}}
{{- define "unilim-hub.early" -}}
argocd.argoproj.io/sync-wave: "-1"
{{- end }}
