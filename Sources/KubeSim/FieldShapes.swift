/// The shapes of the kinds KubeSim serves (`FieldShape`), from the Kubernetes API reference
/// (v1.36 fields included): each object's Go struct, and the Go type of the scalars a client
/// commonly gets wrong (numbers, booleans, strings, lists of strings). Status is the server's and
/// not looked into; nor are the parts whose keys are the user's, the fields that take either a
/// number or a string (ports by name, quantities, `maxSurge`), timestamps, and a few deep parts
/// (volume sources, probes' handlers, security contexts, affinity) described one level down.
enum FieldShapes {
    static func shape(of type: ResourceType) -> FieldShape? {
        byKind[type.group + "/" + type.kind]
    }

    /// A top-level object of kind `go`: `apiVersion`, `kind`, `metadata` and `members`.
    private static func kind(_ go: String, _ scalars: String = "", _ members: [String: FieldShape] = [:]) -> FieldShape {
        .object(go, "apiVersion:s kind:s " + scalars, members.merging(["metadata": objectMeta]) { first, _ in first })
    }

    private static let byKind: [String: FieldShape] = [
        "/Namespace": kind("Namespace", "", ["spec": .object("NamespaceSpec", "finalizers:[s]"), "status": .open]),
        "/Node": kind("Node", "", ["spec": node, "status": .open]),
        "/Pod": kind("Pod", "", ["spec": podSpec, "status": .open]),
        "/Service": kind("Service", "", ["spec": serviceSpec, "status": .open]),
        "/ConfigMap": kind("ConfigMap", "immutable:b", ["data": .open, "binaryData": .open]),
        "/Secret": kind("Secret", "type:s immutable:b", ["data": .open, "stringData": .open]),
        "/ServiceAccount": kind(
            "ServiceAccount", "automountServiceAccountToken:b", ["secrets": .openItems, "imagePullSecrets": .items("LocalObjectReference", "name:s", keys: ["name"])]
        ),
        "/ResourceQuota": kind("ResourceQuota", "", ["spec": quotaSpec, "status": .open]),
        "/LimitRange": kind("LimitRange", "", ["spec": .object("LimitRangeSpec", "", ["limits": .items("LimitRangeItem", "type:s", [
            "max": .open, "min": .open, "default": .open, "defaultRequest": .open, "maxLimitRequestRatio": .open,
        ])])]),
        "/Event": kind(
            "Event", "reason:s message:s firstTimestamp lastTimestamp count:i32 type:s eventTime action:s reportingComponent:s reportingInstance:s",
            ["involvedObject": .open, "source": .open, "series": .open, "related": .open]
        ),
        "/PersistentVolumeClaim": kind("PersistentVolumeClaim", "", ["spec": claimSpec, "status": .open]),
        "apps/Deployment": kind("Deployment", "", ["spec": deploymentSpec, "status": .open]),
        "apps/ReplicaSet": kind("ReplicaSet", "", [
            "spec": .object("ReplicaSetSpec", "replicas:i32 minReadySeconds:i32", ["selector": labelSelector, "template": podTemplate]), "status": .open,
        ]),
        "apps/StatefulSet": kind("StatefulSet", "", ["spec": statefulSetSpec, "status": .open]),
        "apps/DaemonSet": kind("DaemonSet", "", ["spec": daemonSetSpec, "status": .open]),
        "apps/ControllerRevision": kind("ControllerRevision", "revision:i64", ["data": .open]),
        "batch/Job": kind("Job", "", ["spec": jobSpec, "status": .open]),
        "batch/CronJob": kind("CronJob", "", ["spec": cronJobSpec, "status": .open]),
        "rbac.authorization.k8s.io/Role": kind("Role", "", ["rules": policyRules]),
        "rbac.authorization.k8s.io/ClusterRole": kind("ClusterRole", "", [
            "rules": policyRules, "aggregationRule": .object("AggregationRule", "", ["clusterRoleSelectors": .list(labelSelector, keys: [])]),
        ]),
        "rbac.authorization.k8s.io/RoleBinding": kind("RoleBinding", "", ["subjects": subjects, "roleRef": roleRef]),
        "rbac.authorization.k8s.io/ClusterRoleBinding": kind("ClusterRoleBinding", "", ["subjects": subjects, "roleRef": roleRef]),
        "networking.k8s.io/NetworkPolicy": kind("NetworkPolicy", "", ["spec": networkPolicySpec]),
        "networking.k8s.io/Ingress": kind("Ingress", "", ["spec": ingressSpec, "status": .open]),
        "storage.k8s.io/StorageClass": kind(
            "StorageClass", "provisioner:s reclaimPolicy:s mountOptions:[s] allowVolumeExpansion:b volumeBindingMode:s",
            ["parameters": .open, "allowedTopologies": .openItems]
        ),
        "scheduling.k8s.io/PriorityClass": kind("PriorityClass", "value:i32 globalDefault:b description:s preemptionPolicy:s", [:]),
    ]

    // MARK: Metadata and selectors

    static let objectMeta = FieldShape.object(
        "ObjectMeta",
        """
        name:s generateName:s namespace:s selfLink:s uid:s resourceVersion:s generation:i64 creationTimestamp deletionTimestamp \
        deletionGracePeriodSeconds:i64 finalizers:[s]
        """,
        [
            "labels": .open, "annotations": .open, "managedFields": .openItems,
            "ownerReferences": .items("OwnerReference", "apiVersion:s kind:s name:s uid:s controller:b blockOwnerDeletion:b", keys: ["uid"]),
        ]
    )

    static let labelSelector = FieldShape.object(
        "LabelSelector", "", ["matchLabels": .open, "matchExpressions": .items("LabelSelectorRequirement", "key:s operator:s values:[s]")]
    )

    // MARK: Pods

    static let podTemplate = FieldShape.object("PodTemplateSpec", "", ["metadata": objectMeta, "spec": podSpec])

    static let podSpec = FieldShape.object(
        "PodSpec",
        """
        restartPolicy:s terminationGracePeriodSeconds:i64 activeDeadlineSeconds:i64 dnsPolicy:s serviceAccountName:s serviceAccount:s \
        automountServiceAccountToken:b nodeName:s hostNetwork:b hostPID:b hostIPC:b shareProcessNamespace:b hostname:s subdomain:s \
        schedulerName:s priorityClassName:s priority:i32 runtimeClassName:s enableServiceLinks:b preemptionPolicy:s setHostnameAsFQDN:b \
        hostUsers:b hostnameOverride:s
        """,
        [
            "volumes": .list(volume, keys: ["name"]),
            "initContainers": .list(container, keys: ["name"]), "containers": .list(container, keys: ["name"]),
            "ephemeralContainers": .list(container, keys: ["name"]),
            "nodeSelector": .open, "overhead": .open, "securityContext": .open, "affinity": .open, "dnsConfig": .open, "os": .open,
            "imagePullSecrets": .items("LocalObjectReference", "name:s", keys: ["name"]),
            "tolerations": .items("Toleration", "key:s operator:s value:s effect:s tolerationSeconds:i64"),
            "hostAliases": .items("HostAlias", "ip:s hostnames:[s]", keys: ["ip"]),
            "readinessGates": .items("PodReadinessGate", "conditionType:s"),
            "topologySpreadConstraints": .items(
                "TopologySpreadConstraint",
                "maxSkew:i32 topologyKey:s whenUnsatisfiable:s minDomains:i32 nodeAffinityPolicy:s nodeTaintsPolicy:s matchLabelKeys:[s]",
                ["labelSelector": labelSelector], keys: ["topologyKey", "whenUnsatisfiable"]
            ),
            "schedulingGates": .items("PodSchedulingGate", "name:s", keys: ["name"]),
            "resourceClaims": .items("PodResourceClaim", "name:s resourceClaimName:s resourceClaimTemplateName:s", keys: ["name"]),
            "resources": resources, "workloadRef": .open,
        ]
    )

    static let resources = FieldShape.object(
        "ResourceRequirements", "", ["limits": .open, "requests": .open, "claims": .items("ResourceClaim", "name:s request:s", keys: ["name"])]
    )

    static let probe = FieldShape.object(
        "Probe", "initialDelaySeconds:i32 timeoutSeconds:i32 periodSeconds:i32 successThreshold:i32 failureThreshold:i32 terminationGracePeriodSeconds:i64",
        ["exec": .open, "httpGet": .open, "tcpSocket": .open, "grpc": .open]
    )

    static let container = FieldShape.object(
        "Container",
        """
        name:s image:s command:[s] args:[s] workingDir:s restartPolicy:s terminationMessagePath:s terminationMessagePolicy:s \
        imagePullPolicy:s stdin:b stdinOnce:b tty:b targetContainerName:s
        """,
        [
            "ports": .items("ContainerPort", "name:s hostPort:i32 containerPort:i32 protocol:s hostIP:s", keys: ["containerPort", "protocol"]),
            "envFrom": .items("EnvFromSource", "prefix:s", ["configMapRef": .open, "secretRef": .open]),
            "env": .items("EnvVar", "name:s value:s", ["valueFrom": .open], keys: ["name"]),
            "resources": resources,
            "resizePolicy": .items("ContainerResizePolicy", "resourceName:s restartPolicy:s", keys: ["resourceName"]),
            "restartPolicyRules": .openItems,
            "volumeMounts": .items(
                "VolumeMount", "name:s readOnly:b recursiveReadOnly:s mountPath:s subPath:s mountPropagation:s subPathExpr:s", keys: ["mountPath"]
            ),
            "volumeDevices": .items("VolumeDevice", "name:s devicePath:s", keys: ["devicePath"]),
            "livenessProbe": probe, "readinessProbe": probe, "startupProbe": probe,
            "lifecycle": .object("Lifecycle", "stopSignal:s", ["postStart": .open, "preStop": .open]),
            "securityContext": .open,
        ]
    )

    static let volume: FieldShape = {
        let sources = """
            hostPath emptyDir gcePersistentDisk awsElasticBlockStore gitRepo secret nfs iscsi glusterfs persistentVolumeClaim rbd \
            flexVolume cinder cephfs flocker downwardAPI fc azureFile configMap vsphereVolume quobyte azureDisk photonPersistentDisk \
            projected portworxVolume scaleIO storageos csi ephemeral image
            """
        var fields: [String: FieldShape] = ["name": .scalar(.string)]
        for source in sources.split(separator: " ") { fields[String(source)] = .open }
        return .fields("Volume", fields)
    }()

    // MARK: Other core kinds

    static let node = FieldShape.object(
        "NodeSpec", "podCIDR:s podCIDRs:[s] providerID:s unschedulable:b externalID:s",
        ["taints": .items("Taint", "key:s value:s effect:s timeAdded"), "configSource": .open]
    )

    static let serviceSpec = FieldShape.object(
        "ServiceSpec",
        """
        clusterIP:s clusterIPs:[s] type:s externalIPs:[s] sessionAffinity:s loadBalancerIP:s loadBalancerSourceRanges:[s] externalName:s \
        externalTrafficPolicy:s healthCheckNodePort:i32 publishNotReadyAddresses:b ipFamilies:[s] ipFamilyPolicy:s \
        allocateLoadBalancerNodePorts:b loadBalancerClass:s internalTrafficPolicy:s trafficDistribution:s
        """,
        [
            "ports": .items("ServicePort", "name:s protocol:s appProtocol:s port:i32 targetPort nodePort:i32", keys: ["port", "protocol"]),
            "selector": .open, "sessionAffinityConfig": .open,
        ]
    )

    static let quotaSpec = FieldShape.object(
        "ResourceQuotaSpec", "scopes:[s]",
        ["hard": .open, "scopeSelector": .object("ScopeSelector", "", ["matchExpressions": .items("ScopedResourceSelectorRequirement", "scopeName:s operator:s values:[s]")])]
    )

    static let claimSpec = FieldShape.object(
        "PersistentVolumeClaimSpec", "accessModes:[s] volumeName:s storageClassName:s volumeMode:s volumeAttributesClassName:s",
        [
            "selector": labelSelector, "resources": .object("VolumeResourceRequirements", "", ["limits": .open, "requests": .open]),
            "dataSource": .open, "dataSourceRef": .open,
        ]
    )

    // MARK: Workloads

    static let deploymentSpec = FieldShape.object(
        "DeploymentSpec", "replicas:i32 minReadySeconds:i32 revisionHistoryLimit:i32 paused:b progressDeadlineSeconds:i32",
        [
            "selector": labelSelector, "template": podTemplate,
            "strategy": .object("DeploymentStrategy", "type:s", ["rollingUpdate": .object("RollingUpdateDeployment", "maxUnavailable maxSurge")]),
        ]
    )

    static let statefulSetSpec = FieldShape.object(
        "StatefulSetSpec", "replicas:i32 serviceName:s podManagementPolicy:s revisionHistoryLimit:i32 minReadySeconds:i32",
        [
            "selector": labelSelector, "template": podTemplate,
            "volumeClaimTemplates": .list(.object("PersistentVolumeClaim", "apiVersion:s kind:s", ["metadata": objectMeta, "spec": claimSpec, "status": .open]), keys: []),
            "updateStrategy": .object("StatefulSetUpdateStrategy", "type:s", [
                "rollingUpdate": .object("RollingUpdateStatefulSetStrategy", "partition:i32 maxUnavailable"),
            ]),
            "persistentVolumeClaimRetentionPolicy": .object("StatefulSetPersistentVolumeClaimRetentionPolicy", "whenDeleted:s whenScaled:s"),
            "ordinals": .object("StatefulSetOrdinals", "start:i32"),
        ]
    )

    static let daemonSetSpec = FieldShape.object(
        "DaemonSetSpec", "minReadySeconds:i32 revisionHistoryLimit:i32",
        [
            "selector": labelSelector, "template": podTemplate,
            "updateStrategy": .object("DaemonSetUpdateStrategy", "type:s", ["rollingUpdate": .object("RollingUpdateDaemonSet", "maxUnavailable maxSurge")]),
        ]
    )

    static let jobSpec = FieldShape.object(
        "JobSpec",
        """
        parallelism:i32 completions:i32 activeDeadlineSeconds:i64 backoffLimit:i32 backoffLimitPerIndex:i32 maxFailedIndexes:i32 \
        manualSelector:b ttlSecondsAfterFinished:i32 completionMode:s suspend:b podReplacementPolicy:s managedBy:s
        """,
        ["selector": labelSelector, "template": podTemplate, "podFailurePolicy": .open, "successPolicy": .open]
    )

    static let cronJobSpec = FieldShape.object(
        "CronJobSpec",
        "schedule:s timeZone:s startingDeadlineSeconds:i64 concurrencyPolicy:s suspend:b successfulJobsHistoryLimit:i32 failedJobsHistoryLimit:i32",
        ["jobTemplate": .object("JobTemplateSpec", "", ["metadata": objectMeta, "spec": jobSpec])]
    )

    // MARK: RBAC and networking

    static let policyRules = FieldShape.items("PolicyRule", "verbs:[s] apiGroups:[s] resources:[s] resourceNames:[s] nonResourceURLs:[s]")
    static let subjects = FieldShape.items("Subject", "kind:s apiGroup:s name:s namespace:s")
    static let roleRef = FieldShape.object("RoleRef", "apiGroup:s kind:s name:s")

    static let networkPolicySpec: FieldShape = {
        let ports = FieldShape.items("NetworkPolicyPort", "protocol:s port endPort:i32")
        let peer = ["podSelector": labelSelector, "namespaceSelector": labelSelector, "ipBlock": .object("IPBlock", "cidr:s except:[s]")]
        return .object("NetworkPolicySpec", "policyTypes:[s]", [
            "podSelector": labelSelector,
            "ingress": .items("NetworkPolicyIngressRule", "", ["ports": ports, "from": .items("NetworkPolicyPeer", "", peer)]),
            "egress": .items("NetworkPolicyEgressRule", "", ["ports": ports, "to": .items("NetworkPolicyPeer", "", peer)]),
        ])
    }()

    static let ingressSpec = FieldShape.object(
        "IngressSpec", "ingressClassName:s",
        [
            "defaultBackend": .open, "tls": .items("IngressTLS", "hosts:[s] secretName:s"),
            "rules": .items("IngressRule", "host:s", [
                "http": .object("HTTPIngressRuleValue", "", ["paths": .items("HTTPIngressPath", "path:s pathType:s", ["backend": .open])]),
            ]),
        ]
    )
}
