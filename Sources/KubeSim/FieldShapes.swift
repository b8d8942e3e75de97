/// The shapes of the kinds KubeSim serves (`FieldShape`), from the Kubernetes API reference
/// (v1.36 fields included). Status is the server's and not looked into; nor are the parts whose
/// keys are the user's, and a few deep parts (volume sources, probes' handlers, security
/// contexts, affinity) that are only described one level down.
enum FieldShapes {
    static func shape(of type: ResourceType) -> FieldShape? {
        byKind[type.group + "/" + type.kind]
    }

    /// A top-level object: `apiVersion`, `kind`, `metadata` and `members`.
    private static func kind(_ scalars: String, _ members: [String: FieldShape]) -> FieldShape {
        .object("apiVersion kind " + scalars, members.merging(["metadata": objectMeta]) { first, _ in first })
    }

    private static func kind(_ members: [String: FieldShape]) -> FieldShape { kind("", members) }

    private static let byKind: [String: FieldShape] = [
        "/Namespace": kind(["spec": .object("finalizers"), "status": .open]),
        "/Node": kind(["spec": node, "status": .open]),
        "/Pod": kind(["spec": podSpec, "status": .open]),
        "/Service": kind(["spec": serviceSpec, "status": .open]),
        "/ConfigMap": kind("immutable", ["data": .open, "binaryData": .open]),
        "/Secret": kind("type immutable", ["data": .open, "stringData": .open]),
        "/ServiceAccount": kind("automountServiceAccountToken", ["secrets": .openItems, "imagePullSecrets": .items("name", keys: ["name"])]),
        "/ResourceQuota": kind(["spec": quotaSpec, "status": .open]),
        "/LimitRange": kind(["spec": .object("", ["limits": .items("type", ["max": .open, "min": .open, "default": .open, "defaultRequest": .open, "maxLimitRequestRatio": .open])])]),
        "/Event": kind(
            "reason message firstTimestamp lastTimestamp count type eventTime action reportingComponent reportingInstance",
            ["involvedObject": .open, "source": .open, "series": .open, "related": .open]
        ),
        "/PersistentVolumeClaim": kind(["spec": claimSpec, "status": .open]),
        "apps/Deployment": kind(["spec": deploymentSpec, "status": .open]),
        "apps/ReplicaSet": kind(["spec": .object("replicas minReadySeconds", ["selector": labelSelector, "template": podTemplate]), "status": .open]),
        "apps/StatefulSet": kind(["spec": statefulSetSpec, "status": .open]),
        "apps/DaemonSet": kind(["spec": daemonSetSpec, "status": .open]),
        "batch/Job": kind(["spec": jobSpec, "status": .open]),
        "batch/CronJob": kind(["spec": cronJobSpec, "status": .open]),
        "rbac.authorization.k8s.io/Role": kind(["rules": policyRules]),
        "rbac.authorization.k8s.io/ClusterRole": kind(["rules": policyRules, "aggregationRule": .object("", ["clusterRoleSelectors": .list(labelSelector, keys: [])])]),
        "rbac.authorization.k8s.io/RoleBinding": kind(["subjects": subjects, "roleRef": roleRef]),
        "rbac.authorization.k8s.io/ClusterRoleBinding": kind(["subjects": subjects, "roleRef": roleRef]),
        "networking.k8s.io/NetworkPolicy": kind(["spec": networkPolicySpec]),
        "networking.k8s.io/Ingress": kind(["spec": ingressSpec, "status": .open]),
        "storage.k8s.io/StorageClass": kind(
            "provisioner reclaimPolicy mountOptions allowVolumeExpansion volumeBindingMode", ["parameters": .open, "allowedTopologies": .openItems]
        ),
    ]

    // MARK: Metadata and selectors

    static let objectMeta = FieldShape.object(
        "name generateName namespace selfLink uid resourceVersion generation creationTimestamp deletionTimestamp deletionGracePeriodSeconds finalizers",
        [
            "labels": .open, "annotations": .open, "managedFields": .openItems,
            "ownerReferences": .items("apiVersion kind name uid controller blockOwnerDeletion", keys: ["uid"]),
        ]
    )

    static let labelSelector = FieldShape.object("", ["matchLabels": .open, "matchExpressions": .items("key operator values")])

    // MARK: Pods

    static let podTemplate = FieldShape.object("", ["metadata": objectMeta, "spec": podSpec])

    static let podSpec = FieldShape.object(
        """
        restartPolicy terminationGracePeriodSeconds activeDeadlineSeconds dnsPolicy serviceAccountName serviceAccount \
        automountServiceAccountToken nodeName hostNetwork hostPID hostIPC shareProcessNamespace hostname subdomain \
        schedulerName priorityClassName priority runtimeClassName enableServiceLinks preemptionPolicy setHostnameAsFQDN \
        hostUsers hostnameOverride
        """,
        [
            "volumes": .list(volume, keys: ["name"]),
            "initContainers": .list(container, keys: ["name"]), "containers": .list(container, keys: ["name"]),
            "ephemeralContainers": .list(container, keys: ["name"]),
            "nodeSelector": .open, "overhead": .open, "securityContext": .open, "affinity": .open, "dnsConfig": .open, "os": .open,
            "imagePullSecrets": .items("name", keys: ["name"]),
            "tolerations": .items("key operator value effect tolerationSeconds"),
            "hostAliases": .items("ip hostnames", keys: ["ip"]),
            "readinessGates": .items("conditionType"),
            "topologySpreadConstraints": .items(
                "maxSkew topologyKey whenUnsatisfiable minDomains nodeAffinityPolicy nodeTaintsPolicy matchLabelKeys",
                ["labelSelector": labelSelector], keys: ["topologyKey", "whenUnsatisfiable"]
            ),
            "schedulingGates": .items("name", keys: ["name"]),
            "resourceClaims": .items("name resourceClaimName resourceClaimTemplateName", keys: ["name"]),
            "resources": resources, "workloadRef": .open,
        ]
    )

    static let resources = FieldShape.object("", ["limits": .open, "requests": .open, "claims": .items("name request", keys: ["name"])])

    static let probe = FieldShape.object(
        "initialDelaySeconds timeoutSeconds periodSeconds successThreshold failureThreshold terminationGracePeriodSeconds",
        ["exec": .open, "httpGet": .open, "tcpSocket": .open, "grpc": .open]
    )

    static let container = FieldShape.object(
        """
        name image command args workingDir restartPolicy terminationMessagePath terminationMessagePolicy imagePullPolicy \
        stdin stdinOnce tty targetContainerName
        """,
        [
            "ports": .items("name hostPort containerPort protocol hostIP", keys: ["containerPort", "protocol"]),
            "envFrom": .items("prefix", ["configMapRef": .open, "secretRef": .open]),
            "env": .items("name value", ["valueFrom": .open], keys: ["name"]),
            "resources": resources,
            "resizePolicy": .items("resourceName restartPolicy", keys: ["resourceName"]),
            "restartPolicyRules": .openItems,
            "volumeMounts": .items("name readOnly recursiveReadOnly mountPath subPath mountPropagation subPathExpr", keys: ["mountPath"]),
            "volumeDevices": .items("name devicePath", keys: ["devicePath"]),
            "livenessProbe": probe, "readinessProbe": probe, "startupProbe": probe,
            "lifecycle": .object("stopSignal", ["postStart": .open, "preStop": .open]),
            "securityContext": .open,
        ]
    )

    static let volume: FieldShape = {
        let sources = """
            hostPath emptyDir gcePersistentDisk awsElasticBlockStore gitRepo secret nfs iscsi glusterfs persistentVolumeClaim rbd \
            flexVolume cinder cephfs flocker downwardAPI fc azureFile configMap vsphereVolume quobyte azureDisk photonPersistentDisk \
            projected portworxVolume scaleIO storageos csi ephemeral image
            """
        var fields: [String: FieldShape] = ["name": .value]
        for source in sources.split(separator: " ") { fields[String(source)] = .open }
        return .fields(fields)
    }()

    // MARK: Other core kinds

    static let node = FieldShape.object(
        "podCIDR podCIDRs providerID unschedulable externalID", ["taints": .items("key value effect timeAdded"), "configSource": .open]
    )

    static let serviceSpec = FieldShape.object(
        """
        clusterIP clusterIPs type externalIPs sessionAffinity loadBalancerIP loadBalancerSourceRanges externalName \
        externalTrafficPolicy healthCheckNodePort publishNotReadyAddresses ipFamilies ipFamilyPolicy \
        allocateLoadBalancerNodePorts loadBalancerClass internalTrafficPolicy trafficDistribution
        """,
        [
            "ports": .items("name protocol appProtocol port targetPort nodePort", keys: ["port", "protocol"]),
            "selector": .open, "sessionAffinityConfig": .open,
        ]
    )

    static let quotaSpec = FieldShape.object(
        "scopes", ["hard": .open, "scopeSelector": .object("", ["matchExpressions": .items("scopeName operator values")])]
    )

    static let claimSpec = FieldShape.object(
        "accessModes volumeName storageClassName volumeMode volumeAttributesClassName",
        ["selector": labelSelector, "resources": .object("", ["limits": .open, "requests": .open]), "dataSource": .open, "dataSourceRef": .open]
    )

    // MARK: Workloads

    static let deploymentSpec = FieldShape.object(
        "replicas minReadySeconds revisionHistoryLimit paused progressDeadlineSeconds",
        [
            "selector": labelSelector, "template": podTemplate,
            "strategy": .object("type", ["rollingUpdate": .object("maxUnavailable maxSurge")]),
        ]
    )

    static let statefulSetSpec = FieldShape.object(
        "replicas serviceName podManagementPolicy revisionHistoryLimit minReadySeconds",
        [
            "selector": labelSelector, "template": podTemplate,
            "volumeClaimTemplates": .list(.object("apiVersion kind", ["metadata": objectMeta, "spec": claimSpec, "status": .open]), keys: []),
            "updateStrategy": .object("type", ["rollingUpdate": .object("partition maxUnavailable")]),
            "persistentVolumeClaimRetentionPolicy": .object("whenDeleted whenScaled"),
            "ordinals": .object("start"),
        ]
    )

    static let daemonSetSpec = FieldShape.object(
        "minReadySeconds revisionHistoryLimit",
        [
            "selector": labelSelector, "template": podTemplate,
            "updateStrategy": .object("type", ["rollingUpdate": .object("maxUnavailable maxSurge")]),
        ]
    )

    static let jobSpec = FieldShape.object(
        """
        parallelism completions activeDeadlineSeconds backoffLimit backoffLimitPerIndex maxFailedIndexes manualSelector \
        ttlSecondsAfterFinished completionMode suspend podReplacementPolicy managedBy
        """,
        ["selector": labelSelector, "template": podTemplate, "podFailurePolicy": .open, "successPolicy": .open]
    )

    static let cronJobSpec = FieldShape.object(
        "schedule timeZone startingDeadlineSeconds concurrencyPolicy suspend successfulJobsHistoryLimit failedJobsHistoryLimit",
        ["jobTemplate": .object("", ["metadata": objectMeta, "spec": jobSpec])]
    )

    // MARK: RBAC and networking

    static let policyRules = FieldShape.items("verbs apiGroups resources resourceNames nonResourceURLs")
    static let subjects = FieldShape.items("kind apiGroup name namespace")
    static let roleRef = FieldShape.object("apiGroup kind name")

    static let networkPolicySpec: FieldShape = {
        let ports = FieldShape.items("protocol port endPort")
        let peers = FieldShape.items("", ["podSelector": labelSelector, "namespaceSelector": labelSelector, "ipBlock": .object("cidr except")])
        return .object("policyTypes", [
            "podSelector": labelSelector,
            "ingress": .items("", ["ports": ports, "from": peers]),
            "egress": .items("", ["ports": ports, "to": peers]),
        ])
    }()

    static let ingressSpec = FieldShape.object(
        "ingressClassName",
        [
            "defaultBackend": .open, "tls": .items("hosts secretName"),
            "rules": .items("host", ["http": .object("", ["paths": .items("path pathType", ["backend": .open])])]),
        ]
    )
}
