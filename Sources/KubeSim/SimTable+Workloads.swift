import Foundation
import KubeAPI

/// The Table columns a real server prints for workloads, services, claims and ingresses
/// (`kubectl get deploy`, `get jobs` …), from the status KubeSim's controllers keep.
extension SimTable {
    static func workloadColumns(for type: ResourceType) -> [Column]? {
        let name = Column(name: "Name", format: "name"), age = Column(name: "Age")
        let containers = [Column(name: "Containers", priority: 1), Column(name: "Images", priority: 1)]
        let selector = Column(name: "Selector", priority: 1)
        func count(_ title: String) -> Column { Column(name: title, type: "integer") }
        switch (type.group, type.resource) {
        case ("apps", "deployments"):
            return [name, Column(name: "Ready"), count("Up-to-date"), count("Available"), age] + containers + [selector]
        case ("apps", "replicasets"):
            return [name, count("Desired"), count("Current"), count("Ready"), age] + containers + [selector]
        case ("apps", "statefulsets"):
            return [name, Column(name: "Ready"), age] + containers
        case ("apps", "daemonsets"):
            return [name, count("Desired"), count("Current"), count("Ready"), count("Up-to-date"), count("Available"), Column(name: "Node Selector"), age]
                + containers + [selector]
        case ("batch", "jobs"):
            return [name, Column(name: "Status"), Column(name: "Completions"), Column(name: "Duration"), age] + containers + [selector]
        case ("batch", "cronjobs"):
            return [name, Column(name: "Schedule"), Column(name: "Timezone"), Column(name: "Suspend", type: "boolean"), count("Active"),
                    Column(name: "Last Schedule"), age] + containers + [selector]
        case ("", "services"):
            return [name, Column(name: "Type"), Column(name: "Cluster-IP"), Column(name: "External-IP"), Column(name: "Port(s)"), age, selector]
        case ("", "persistentvolumeclaims"):
            return [name, Column(name: "Status"), Column(name: "Volume"), Column(name: "Capacity"), Column(name: "Access Modes"),
                    Column(name: "StorageClass"), Column(name: "VolumeAttributesClass"), age, Column(name: "VolumeMode", priority: 1)]
        case ("", "events"):
            return [Column(name: "Last Seen"), Column(name: "Type"), Column(name: "Reason"), Column(name: "Object"), Column(name: "Subobject", priority: 1),
                    Column(name: "Source", priority: 1), Column(name: "Message"), Column(name: "First Seen", priority: 1),
                    Column(name: "Count", type: "integer", priority: 1), Column(name: "Name", format: "name", priority: 1)]
        case ("networking.k8s.io", "ingresses"):
            return [name, Column(name: "Class"), Column(name: "Hosts"), Column(name: "Address"), Column(name: "Ports"), age]
        case ("apps", "controllerrevisions"):
            return [name, Column(name: "Controller"), count("Revision"), age]
        default:
            return nil
        }
    }

    static func workloadCells(_ object: JSON, type: ResourceType, name: JSON, age: JSON, now: Date) -> [JSON]? {
        func int(_ path: String, _ fallback: Int = 0) -> Int { object[path: path]?.numberValue.map { Int($0) } ?? fallback }
        func number(_ path: String, _ fallback: Int = 0) -> JSON { .number(Double(int(path, fallback))) }
        func text(_ path: String, _ fallback: String) -> JSON { .string(object[path: path]?.stringValue ?? fallback) }
        func pods(_ template: String) -> [JSON] {
            let list = object[path: "\(template).spec.containers"]?.arrayValue ?? []
            return [.string(list.compactMap { $0["name"]?.stringValue }.joined(separator: ",")),
                    .string(list.compactMap { $0["image"]?.stringValue }.joined(separator: ","))]
        }
        func labels(_ path: String) -> String {
            let pairs = (object[path: path]?.objectValue ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.stringValue ?? "")" }
            return pairs.isEmpty ? "<none>" : pairs.joined(separator: ",")
        }
        switch (type.group, type.resource) {
        case ("apps", "deployments"):
            return [name, .string("\(int("status.readyReplicas"))/\(int("spec.replicas", 1))"), number("status.updatedReplicas"),
                    number("status.availableReplicas"), age] + pods("spec.template") + [.string(labels("spec.selector.matchLabels"))]
        case ("apps", "replicasets"):
            return [name, number("spec.replicas", 1), number("status.replicas"), number("status.readyReplicas"), age]
                + pods("spec.template") + [.string(labels("spec.selector.matchLabels"))]
        case ("apps", "statefulsets"):
            return [name, .string("\(int("status.readyReplicas"))/\(int("spec.replicas", 1))"), age] + pods("spec.template")
        case ("apps", "daemonsets"):
            return [name, number("status.desiredNumberScheduled"), number("status.currentNumberScheduled"), number("status.numberReady"),
                    number("status.updatedNumberScheduled"), number("status.numberAvailable"), .string(labels("spec.template.spec.nodeSelector")), age]
                + pods("spec.template") + [.string(labels("spec.selector.matchLabels"))]
        case ("batch", "jobs"):
            let conditions = (object[path: "status.conditions"]?.arrayValue ?? []).filter { $0["status"]?.stringValue == "True" }.compactMap { $0["type"]?.stringValue }
            let status = conditions.contains("Complete") ? "Complete" : conditions.contains("Failed") ? "Failed"
                : object[path: "spec.suspend"]?.boolValue == true ? "Suspended" : "Running"
            // How long it ran: to its completion, or so far.
            let started = object[path: "status.startTime"]?.stringValue.flatMap(KubeTime.parse)
            let ended = object[path: "status.completionTime"]?.stringValue.flatMap(KubeTime.parse) ?? now
            let duration = started.map { SimTable.humanDuration(ended.timeIntervalSince($0)) } ?? ""
            return [name, .string(status), .string("\(int("status.succeeded"))/\(int("spec.completions", 1))"), .string(duration), age]
                + pods("spec.template") + [.string(labels("spec.selector.matchLabels"))]
        case ("batch", "cronjobs"):
            return [name, text("spec.schedule", ""), text("spec.timeZone", "<none>"), .string(object[path: "spec.suspend"]?.boolValue == true ? "True" : "False"),
                    .number(Double(object[path: "status.active"]?.arrayValue?.count ?? 0)),
                    .string(object[path: "status.lastScheduleTime"]?.stringValue.flatMap(KubeTime.parse).map { SimTable.humanDuration(now.timeIntervalSince($0)) } ?? "<none>"), age]
                + pods("spec.jobTemplate.spec.template") + [.string(labels("spec.jobTemplate.spec.selector.matchLabels"))]
        case ("", "services"):
            let kind = object[path: "spec.type"]?.stringValue ?? "ClusterIP"
            let ports = (object[path: "spec.ports"]?.arrayValue ?? []).map { port -> String in
                let number = port["port"]?.numberValue.map { String(Int($0)) } ?? ""
                let node = port["nodePort"]?.numberValue.flatMap { $0 > 0 ? ":\(Int($0))" : nil } ?? ""
                return "\(number)\(node)/\(port["protocol"]?.stringValue ?? "TCP")"
            }
            return [name, .string(kind), text("spec.clusterIP", "<none>"), .string(kind == "LoadBalancer" ? "<pending>" : "<none>"),
                    .string(ports.isEmpty ? "<none>" : ports.joined(separator: ",")), age, .string(labels("spec.selector"))]
        case ("", "persistentvolumeclaims"):
            let modes = (object[path: "spec.accessModes"]?.arrayValue ?? []).compactMap(\.stringValue).map { mode in
                ["ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"][mode] ?? mode
            }
            return [name, text("status.phase", "Pending"), text("spec.volumeName", ""), text("status.capacity.storage", ""), .string(modes.joined(separator: ",")),
                    text("spec.storageClassName", "<unset>"), text("spec.volumeAttributesClassName", "<unset>"), age, text("spec.volumeMode", "Filesystem")]
        case ("", "events"):
            func seen(_ path: String) -> JSON {
                .string(object[path: path]?.stringValue.flatMap(KubeTime.parse).map { SimTable.humanDuration(now.timeIntervalSince($0)) } ?? "<unknown>")
            }
            let kind = (object[path: "involvedObject.kind"]?.stringValue ?? "").lowercased()
            return [seen("lastTimestamp"), text("type", ""), text("reason", ""), .string("\(kind)/\(object[path: "involvedObject.name"]?.stringValue ?? "")"),
                    text("involvedObject.fieldPath", ""), text("source.component", ""), text("message", ""), seen("firstTimestamp"),
                    number("count", 1), name]
        case ("networking.k8s.io", "ingresses"):
            let hosts = (object[path: "spec.rules"]?.arrayValue ?? []).compactMap { $0["host"]?.stringValue }
            let ports = object[path: "spec.tls"]?.arrayValue?.isEmpty == false ? "80, 443" : "80"
            return [name, text("spec.ingressClassName", "<none>"), .string(hosts.isEmpty ? "*" : hosts.joined(separator: ",")), .string(""), .string(ports), age]
        case ("apps", "controllerrevisions"):
            let owner = SimControllers.controllerReference(of: object).map { "\($0.kind.lowercased()).apps/\($0.name)" } ?? "<none>"
            return [name, .string(owner), number("revision"), age]
        default:
            return nil
        }
    }
}
