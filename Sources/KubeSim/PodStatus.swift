import Foundation
import KubeAPI

/// The status the scheduler and a kubelet give a pod, in their fields and words, though KubeSim
/// runs nothing: a bound pod's containers are running (and ready) at once, its init containers
/// done; a pod no node can take has `PodScheduled` False with the scheduler's reason. What
/// `kubectl wait --for=condition=Ready`, `kubectl describe pod` and the `READY` column read.
enum PodStatus {
    /// A pod bound to `node`: `Running`, its addresses, start time, the five conditions a
    /// kubelet reports `True` (in its order), and a status per container.
    static func started(_ pod: inout JSON, node: JSON?, podIP: String, at now: Date) {
        let time = JSON.string(KubeTime.format(now))
        let hostIP = node.flatMap(internalIP) ?? "10.0.0.1"
        var status = pod["status"]?.objectValue ?? [:]
        status["phase"] = .string("Running")
        status["hostIP"] = .string(hostIP)
        status["hostIPs"] = .array([.object(["ip": .string(hostIP)])])
        status["podIP"] = .string(podIP)
        status["podIPs"] = .array([.object(["ip": .string(podIP)])])
        status["startTime"] = time
        status["conditions"] = .array(["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"].map {
            condition($0, true, at: time)
        })
        let containers = pod[path: "spec.containers"]?.arrayValue ?? []
        status["containerStatuses"] = .array(containers.map { containerStatus($0, state: .object(["running": .object(["startedAt": time])]), ready: true, started: true) })
        let initContainers = pod[path: "spec.initContainers"]?.arrayValue ?? []
        if !initContainers.isEmpty {
            status["initContainerStatuses"] = .array(initContainers.map { container in
                // A sidecar (`restartPolicy: Always`) runs beside the containers; the others ran to completion.
                if container["restartPolicy"]?.stringValue == "Always" {
                    return containerStatus(container, state: .object(["running": .object(["startedAt": time])]), ready: true, started: true)
                }
                let id = containerID()
                let done: JSON = .object([
                    "terminated": .object([
                        "containerID": .string(id), "exitCode": .number(0), "reason": .string("Completed"), "startedAt": time, "finishedAt": time,
                    ]),
                ])
                return containerStatus(container, state: done, ready: true, started: false, id: id)
            })
        }
        pod["status"] = .object(status)
    }

    /// A pod no node takes: `Pending`, with `PodScheduled` False for the scheduler's `message`.
    static func unschedulable(_ pod: inout JSON, message: String, at now: Date) {
        var condition = condition("PodScheduled", false, at: .string(KubeTime.format(now))).objectValue ?? [:]
        condition["reason"] = .string("Unschedulable")
        condition["message"] = .string(message)
        pod[path: "status.phase"] = .string("Pending")
        pod[path: "status.conditions"] = .array([.object(condition)])
    }

    private static func condition(_ type: String, _ held: Bool, at time: JSON) -> JSON {
        .object(["type": .string(type), "status": .string(held ? "True" : "False"), "lastProbeTime": .null, "lastTransitionTime": time])
    }

    private static func internalIP(_ node: JSON) -> String? {
        node[path: "status.addresses"]?.arrayValue?.first { $0["type"]?.stringValue == "InternalIP" }?["address"]?.stringValue
    }

    private static func containerStatus(_ container: JSON, state: JSON, ready: Bool, started: Bool, id: String = containerID()) -> JSON {
        let image = container["image"]?.stringValue ?? ""
        var status: [String: JSON] = [
            "name": container["name"] ?? .string(""), "image": .string(normalized(image)), "imageID": .string(imageID(image)),
            "containerID": .string(id), "ready": .bool(ready), "started": .bool(started), "restartCount": .number(0),
            "lastState": .object([:]), "state": state,
        ]
        if let resources = container["resources"]?.objectValue, !resources.isEmpty { status["resources"] = .object(resources) }
        if let mounts = container["volumeMounts"]?.arrayValue, !mounts.isEmpty {
            status["volumeMounts"] = .array(mounts.map { mount in
                var fields = mount.objectValue ?? [:]
                fields.removeValue(forKey: "subPath")
                if fields["readOnly"] == .bool(true) { fields["recursiveReadOnly"] = .string("Disabled") }
                return .object(fields)
            })
        }
        return .object(status)
    }

    private static func containerID() -> String {
        "containerd://" + String((0..<64).map { _ in "0123456789abcdef".randomElement()! })
    }

    /// The image as the runtime reports it: `nginx` is `docker.io/library/nginx:latest`.
    static func normalized(_ image: String) -> String {
        var name = image
        let first = name.split(separator: "/", maxSplits: 1).first.map(String.init) ?? name
        let hasRegistry = name.contains("/") && (first.contains(".") || first.contains(":") || first == "localhost")
        if !hasRegistry { name = "docker.io/" + (name.contains("/") ? name : "library/" + name) }
        if PodDefaults.tag(of: image) == "latest", !image.hasSuffix(":latest") { name += ":latest" }
        return name
    }

    /// The image's digest as the runtime reports it (made up, but the same for the same image).
    static func imageID(_ image: String) -> String {
        if image.contains("@") { return normalized(image) }
        let repository = normalized(image).split(separator: "@").first.map(String.init) ?? image
        let bare = repository.lastIndex(of: ":").map { index in repository[index...].contains("/") ? repository : String(repository[..<index]) } ?? repository
        var hash: UInt64 = 14_695_981_039_346_656_037
        var digest = ""
        for round in 0..<4 {
            for byte in Array(image.utf8) + [UInt8(round)] { hash = (hash ^ UInt64(byte)) &* 1_099_511_628_211 }
            digest += String(hash, radix: 16).leftPadded(to: 16)
        }
        return "\(bare)@sha256:\(digest)"
    }
}

private extension String {
    func leftPadded(to length: Int) -> String { String(repeating: "0", count: max(0, length - count)) + self }
}
