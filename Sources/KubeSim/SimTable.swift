import Foundation
import KubeAPI

/// The `Table` form of lists and objects (`meta.k8s.io/v1`), which `kubectl get` asks for and
/// prints as it comes: the server chooses the columns.
enum SimTable {
    /// Whether the request's Accept header asks for a Table.
    static func isRequested(_ accept: String?) -> Bool {
        accept?.contains("as=Table") ?? false
    }

    /// A Table of `objects` of one kind. `includeObject` is the query parameter of that name:
    /// `Object` embeds whole objects, `None` nothing, anything else metadata only.
    static func table(_ objects: [JSON], type: ResourceType, revision: Int64?, includeObject: String?, now: Date) -> JSON {
        let columns = columns(for: type)
        let rows: [JSON] = objects.map { object in
            var row: [String: JSON] = ["cells": .array(cells(object, type: type, now: now))]
            switch includeObject {
            case "None": break
            case "Object": row["object"] = object
            default:
                row["object"] = .object([
                    "kind": .string("PartialObjectMetadata"), "apiVersion": .string("meta.k8s.io/v1"),
                    "metadata": object["metadata"] ?? .object([:]),
                ])
            }
            return .object(row)
        }
        var metadata: [String: JSON] = [:]
        if let revision { metadata["resourceVersion"] = .string(String(revision)) }
        return .object([
            "kind": .string("Table"), "apiVersion": .string("meta.k8s.io/v1"), "metadata": .object(metadata),
            "columnDefinitions": .array(columns.map { column in
                .object(["name": .string(column.name), "type": .string(column.type), "format": .string(column.format),
                         "description": .string(column.name), "priority": .number(Double(column.priority))])
            }),
            "rows": .array(rows),
        ])
    }

    struct Column {
        let name: String
        var type = "string"
        var format = ""
        var priority = 0
    }

    private static func columns(for type: ResourceType) -> [Column] {
        if let columns = workloadColumns(for: type) { return columns }
        return switch type.resource {
        case "pods":
            [Column(name: "Name", format: "name"), Column(name: "Ready"), Column(name: "Status"), Column(name: "Restarts", type: "string"),
             Column(name: "Age"), Column(name: "IP", priority: 1), Column(name: "Node", priority: 1),
             Column(name: "Nominated Node", priority: 1), Column(name: "Readiness Gates", priority: 1)]
        case "namespaces":
            [Column(name: "Name", format: "name"), Column(name: "Status"), Column(name: "Age")]
        case "nodes":
            [Column(name: "Name", format: "name"), Column(name: "Status"), Column(name: "Roles"), Column(name: "Age"), Column(name: "Version"),
             Column(name: "Internal-IP", priority: 1), Column(name: "External-IP", priority: 1), Column(name: "OS-Image", priority: 1),
             Column(name: "Kernel-Version", priority: 1), Column(name: "Container-Runtime", priority: 1)]
        case "resourcequotas":
            [Column(name: "Name", format: "name"), Column(name: "Age"), Column(name: "Request"), Column(name: "Limit")]
        case "priorityclasses":
            [Column(name: "Name", format: "name"), Column(name: "Value", type: "integer"), Column(name: "Global-Default", type: "boolean"),
             Column(name: "Age"), Column(name: "PreemptionPolicy")]
        case "rolebindings", "clusterrolebindings":
            [Column(name: "Name", format: "name"), Column(name: "Role"), Column(name: "Age"),
             Column(name: "Users", priority: 1), Column(name: "Groups", priority: 1)]
        default:
            [Column(name: "Name", format: "name"), Column(name: "Age")]
        }
    }

    private static func cells(_ object: JSON, type: ResourceType, now: Date) -> [JSON] {
        let name = JSON.string(object[path: "metadata.name"]?.stringValue ?? "")
        let age = JSON.string(object[path: "metadata.creationTimestamp"]?.stringValue.flatMap(KubeTime.parse).map { humanDuration(now.timeIntervalSince($0)) } ?? "<unknown>")
        if let cells = workloadCells(object, type: type, name: name, age: age, now: now) { return cells }
        switch type.resource {
        case "pods":
            let containers = object[path: "spec.containers"]?.arrayValue?.count ?? 0
            let phase = object[path: "status.phase"]?.stringValue ?? "Pending"
            let statuses = object[path: "status.containerStatuses"]?.arrayValue ?? []
            let ready = statuses.count { $0["ready"] == .bool(true) }
            let restarts = statuses.reduce(0) { $0 + Int($1["restartCount"]?.numberValue ?? 0) }
            let shown = object[path: "metadata.deletionTimestamp"] == nil ? phase : "Terminating"
            return [name, .string("\(ready)/\(containers)"), .string(shown), .string(String(restarts)), age,
                    .string(object[path: "status.podIP"]?.stringValue ?? "<none>"), .string(object[path: "spec.nodeName"]?.stringValue ?? "<none>"),
                    .string("<none>"), .string("<none>")]
        case "namespaces":
            return [name, .string(object[path: "status.phase"]?.stringValue ?? "Active"), age]
        case "nodes":
            // The Ready condition's word, and whether the node is cordoned; roles from its labels.
            let ready = object[path: "status.conditions"]?.arrayValue?.first { $0["type"]?.stringValue == "Ready" }?["status"]?.stringValue
            var status = ready == "True" ? "Ready" : ready == "False" ? "NotReady" : "Unknown"
            if object[path: "spec.unschedulable"] == .bool(true) { status += ",SchedulingDisabled" }
            let roles = (object[path: "metadata.labels"]?.objectValue ?? [:]).keys.filter { $0.hasPrefix("node-role.kubernetes.io/") }
                .map { String($0.dropFirst("node-role.kubernetes.io/".count)) }.sorted()
            func address(_ type: String) -> String {
                object[path: "status.addresses"]?.arrayValue?.first { $0["type"]?.stringValue == type }?["address"]?.stringValue ?? "<none>"
            }
            let info = { (field: String) in JSON.string(object[path: "status.nodeInfo.\(field)"]?.stringValue ?? "<unknown>") }
            return [name, .string(status), .string(roles.isEmpty ? "<none>" : roles.joined(separator: ",")), age, info("kubeletVersion"),
                    .string(address("InternalIP")), .string(address("ExternalIP")), info("osImage"), info("kernelVersion"), info("containerRuntimeVersion")]
        case "resourcequotas":
            let hard = object[path: "status.hard"]?.objectValue ?? object[path: "spec.hard"]?.objectValue ?? [:]
            let used = object[path: "status.used"]?.objectValue ?? [:]
            func describe(_ keys: [String]) -> String {
                keys.map { "\($0): \(used[$0]?.stringValue ?? "0")/\(hard[$0]?.stringValue ?? "")" }.joined(separator: ", ")
            }
            let requests = hard.keys.filter { !$0.hasPrefix("limits.") }.sorted()
            let limits = hard.keys.filter { $0.hasPrefix("limits.") }.sorted()
            return [name, age, .string(describe(requests)), .string(describe(limits))]
        case "priorityclasses":
            return [name, .number(Double(PriorityClasses.value(object))), .bool(object["globalDefault"]?.boolValue ?? false), age,
                    .string(object["preemptionPolicy"]?.stringValue ?? "")]
        case "rolebindings", "clusterrolebindings":
            let subjects = object["subjects"]?.arrayValue ?? []
            func names(_ kind: String) -> String {
                subjects.filter { $0["kind"]?.stringValue == kind }.compactMap { $0["name"]?.stringValue }.joined(separator: ", ")
            }
            let role = "\(object[path: "roleRef.kind"]?.stringValue ?? "")/\(object[path: "roleRef.name"]?.stringValue ?? "")"
            return [name, .string(role), age, .string(names("User")), .string(names("Group"))]
        default:
            return [name, age]
        }
    }

    /// Kubernetes' human durations: `45s`, `3m20s`, `12m`, `5h4m`, `30h`, `3d4h`, `20d`, `2y3d`.
    static func humanDuration(_ interval: TimeInterval) -> String {
        let seconds = Int(interval)
        if seconds < -1 { return "<invalid>" }
        if seconds < 0 { return "0s" }
        if seconds < 120 { return "\(seconds)s" }
        let minutes = seconds / 60
        if minutes < 10 { return seconds % 60 == 0 ? "\(minutes)m" : "\(minutes)m\(seconds % 60)s" }
        if minutes < 180 { return "\(minutes)m" }
        let hours = minutes / 60
        if hours < 8 { return minutes % 60 == 0 ? "\(hours)h" : "\(hours)h\(minutes % 60)m" }
        if hours < 48 { return "\(hours)h" }
        let days = hours / 24
        if hours < 24 * 8 { return hours % 24 == 0 ? "\(days)d" : "\(days)d\(hours % 24)h" }
        if days < 365 * 2 { return "\(days)d" }
        let years = days / 365
        if days < 365 * 8 { return days % 365 == 0 ? "\(years)y" : "\(years)y\(days % 365)d" }
        return "\(years)y"
    }
}
