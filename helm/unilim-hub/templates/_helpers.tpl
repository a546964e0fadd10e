{{/* Labels of every object of ours, as Zero to JupyterHub labels its own. */}}
{{- define "unilim-hub.labels" -}}
app.kubernetes.io/name: unilim-hub
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}

{{/* Pods of a Zero to JupyterHub component, by the label its own policies select on
(KubeSpawner gives user servers `component: singleuser-server`). */}}
{{- define "unilim-hub.selector" -}}
matchLabels:
  component: {{ . }}
{{- end }}

{{/* Egress rules to the ipBlocks and TCP ports of a list of `networkPolicy` entries
(an entry without CIDRs adds nothing). */}}
{{- define "unilim-hub.egress" -}}
{{- range . }}
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
{{- end }}

{{/* Argo CD applies these before Zero to JupyterHub's hub (wave 0): the hub starts with its
rights, its quota and its priority class already there. */}}
{{- define "unilim-hub.early" -}}
argocd.argoproj.io/sync-wave: "-1"
{{- end }}
