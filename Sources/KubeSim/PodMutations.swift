import KubeAPI

/// What a real API server's mutating admission adds to a new pod beyond its defaults, and what
/// the DaemonSet controller adds to its pods:
/// - the ServiceAccount plugin: the account's API token mounted in every container and init
///   container (a projected volume `kube-api-access-<5 characters>` at
///   `/var/run/secrets/kubernetes.io/serviceaccount`) unless the pod, or failing that the
///   account, turns automounting off; the account's image pull secrets copied to a pod that
///   names none. (That the account exists is checked in `SimCluster.serviceAccount`.)
/// - DefaultTolerationSeconds: a pod that does not tolerate `node.kubernetes.io/not-ready` or
///   `…/unreachable` with `NoExecute` gets a toleration of each for 300 seconds, on create and
///   update alike.
/// - The DaemonSet controller's tolerations (`AddOrUpdateDaemonPodTolerations`) and its
///   required node affinity on the pod's node (`ReplaceDaemonSetPodNodeNameNodeAffinity`).
enum PodMutations {
    static let tokenMountPath = "/var/run/secrets/kubernetes.io/serviceaccount"
    static let tokenVolumePrefix = "kube-api-access-"
    /// The letters of Kubernetes' generated names (`names.SimpleNameGenerator`).
    static let nameAlphabet = "bcdfghjklmnpqrstvwxz2456789"

    /// Five random letters of `nameAlphabet`, as `generateName` and the token volume get.
    static func randomSuffix() -> String {
        String((0..<5).map { _ in nameAlphabet.randomElement()! })
    }

    /// The ServiceAccount plugin's mutations of a new pod, `account` being its account.
    static func admitServiceAccount(_ pod: inout JSON, account: JSON) {
        let automount = pod[path: "spec.automountServiceAccountToken"]?.boolValue ?? account["automountServiceAccountToken"]?.boolValue ?? true
        if automount { mountToken(&pod) }
        if (pod[path: "spec.imagePullSecrets"]?.arrayValue ?? []).isEmpty, let secrets = account["imagePullSecrets"]?.arrayValue, !secrets.isEmpty {
            pod[path: "spec.imagePullSecrets"] = .array(secrets.map { .object(["name": $0["name"] ?? .string("")]) })
        }
    }

    /// Mounts the token in every container without a mount at its path; the volume is the
    /// pod's own `kube-api-access-…` one if it has one, else a new one when a container needs it.
    private static func mountToken(_ pod: inout JSON) {
        let volumes = pod[path: "spec.volumes"]?.arrayValue ?? []
        let existing = volumes.compactMap { $0["name"]?.stringValue }.first { $0.hasPrefix(tokenVolumePrefix) }
        let volumeName = existing ?? tokenVolumePrefix + randomSuffix()
        let mount: JSON = .object(["name": .string(volumeName), "readOnly": .bool(true), "mountPath": .string(tokenMountPath)])
        var needed = false
        for field in ["initContainers", "containers"] {
            guard var containers = pod[path: "spec.\(field)"]?.arrayValue else { continue }
            for index in containers.indices {
                let mounts = containers[index]["volumeMounts"]?.arrayValue ?? []
                guard !mounts.contains(where: { $0["mountPath"]?.stringValue == tokenMountPath }) else { continue }
                containers[index]["volumeMounts"] = .array(mounts + [mount])
                needed = true
            }
            pod[path: "spec.\(field)"] = .array(containers)
        }
        guard existing == nil, needed else { return }
        pod[path: "spec.volumes"] = .array(volumes + [.object(["name": .string(volumeName), "projected": tokenVolumeSource])])
    }

    /// The projected token volume as a real server stores it (`TokenVolumeSource`, with the
    /// defaults the stored object is read back with).
    static let tokenVolumeSource: JSON = .object([
        "defaultMode": .number(420),
        "sources": .array([
            .object(["serviceAccountToken": .object(["expirationSeconds": .number(3607), "path": .string("token")])]),
            .object(["configMap": .object([
                "name": .string(SimCluster.rootCAName),
                "items": .array([.object(["key": .string("ca.crt"), "path": .string("ca.crt")])]),
            ])]),
            .object(["downwardAPI": .object([
                "items": .array([.object([
                    "path": .string("namespace"),
                    "fieldRef": .object(["apiVersion": .string("v1"), "fieldPath": .string("metadata.namespace")]),
                ])]),
            ])]),
        ]),
    ])

    /// DefaultTolerationSeconds: five minutes' toleration of a node that is not ready or cannot
    /// be reached, unless the pod tolerates it already (a toleration of that key, or of every
    /// key, with `NoExecute` or every effect).
    static func addDefaultTolerations(_ pod: inout JSON) {
        var tolerations = pod[path: "spec.tolerations"]?.arrayValue ?? []
        for key in ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"] {
            let tolerated = tolerations.contains { toleration in
                let tolerationKey = toleration["key"]?.stringValue ?? "", effect = toleration["effect"]?.stringValue ?? ""
                return (tolerationKey == key || tolerationKey.isEmpty) && (effect == "NoExecute" || effect.isEmpty)
            }
            guard !tolerated else { continue }
            tolerations.append(.object([
                "key": .string(key), "operator": .string("Exists"), "effect": .string("NoExecute"), "tolerationSeconds": .number(300),
            ]))
        }
        pod[path: "spec.tolerations"] = .array(tolerations)
    }

    /// The DaemonSet controller's pod for `node`: it tolerates the node conditions' taints
    /// (without a time limit for not-ready and unreachable: it is not evicted), and requires
    /// that node by name in place of the template's required node affinity.
    static func pinDaemonPod(_ pod: inout JSON, to node: String) {
        var taints: [(String, String)] = [
            ("node.kubernetes.io/not-ready", "NoExecute"), ("node.kubernetes.io/unreachable", "NoExecute"),
            ("node.kubernetes.io/disk-pressure", "NoSchedule"), ("node.kubernetes.io/memory-pressure", "NoSchedule"),
            ("node.kubernetes.io/pid-pressure", "NoSchedule"), ("node.kubernetes.io/unschedulable", "NoSchedule"),
        ]
        if pod[path: "spec.hostNetwork"]?.boolValue == true { taints.append(("node.kubernetes.io/network-unavailable", "NoSchedule")) }
        var tolerations = pod[path: "spec.tolerations"]?.arrayValue ?? []
        for (key, effect) in taints {
            let toleration: JSON = .object(["key": .string(key), "operator": .string("Exists"), "effect": .string(effect)])
            // `AddOrUpdateTolerationInPodSpec`: one of the same key, operator, value and effect is replaced.
            if let index = tolerations.firstIndex(where: { same($0, toleration) }) { tolerations[index] = toleration } else { tolerations.append(toleration) }
        }
        pod[path: "spec.tolerations"] = .array(tolerations)
        let term: JSON = .object(["matchFields": .array([.object([
            "key": .string("metadata.name"), "operator": .string("In"), "values": .array([.string(node)]),
        ])])])
        pod[path: "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"] = .object(["nodeSelectorTerms": .array([term])])
    }

    private static func same(_ one: JSON, _ other: JSON) -> Bool {
        ["key", "operator", "value", "effect"].allSatisfy { (one[$0]?.stringValue ?? "") == (other[$0]?.stringValue ?? "") }
    }
}
