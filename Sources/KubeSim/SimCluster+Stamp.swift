import Foundation
import KubeAPI

extension SimCluster {
    /// Checks the object's kind and namespace against the URL, fills what the URL implies, and
    /// validates the metadata (`ObjectMetaValidation`), quantities, quotas and limit ranges
    /// (`SpecValidation`), and the workloads' selectors, templates and strategies (`WorkloadValidation`).
    func stamp(_ object: inout JSON, type: ResourceType, namespace: String?) throws(Status) {
        guard case .object = object else { throw Status(code: 400, reason: "BadRequest", message: "the body must be a JSON object") }
        if let kind = object["kind"]?.stringValue, kind != type.kind {
            throw Status(code: 400, reason: "BadRequest", message: "the API version in the data (\(object["apiVersion"]?.stringValue ?? "")) does not match the expected API version (\(type.apiVersion))")
        }
        object["apiVersion"] = .string(type.apiVersion)
        object["kind"] = .string(type.kind)
        if object["metadata"] == nil { object["metadata"] = .object([:]) }
        if type.isNamespaced {
            if let given = object[path: "metadata.namespace"]?.stringValue, !given.isEmpty, let namespace, given != namespace {
                throw Status(code: 400, reason: "BadRequest", message: "the namespace of the provided object does not match the namespace sent on the request")
            }
            object[path: "metadata.namespace"] = namespace.map(JSON.string)
        } else {
            object[path: "metadata.namespace"] = nil
        }
        if object[path: "metadata.name"] == nil, let prefix = object[path: "metadata.generateName"]?.stringValue {
            object[path: "metadata.name"] = .string(prefix + PodMutations.randomSuffix())
        }
        if type.group == SpecValidation.rbacGroup, type.resource.hasSuffix("bindings") { SpecValidation.applyBindingDefaults(&object) }
        // The namespace strategy labels every namespace with its name, on create and update
        // alike: a client cannot remove or change the label.
        if type == Self.namespaces, let name = object[path: "metadata.name"]?.stringValue {
            object[path: "metadata.labels"] = .object((object[path: "metadata.labels"]?.objectValue ?? [:]).merging([Self.namespaceNameLabel: .string(name)]) { _, set in set })
        }
        try SpecValidation.checkQuantities(object, type: type)
        try ConfigValidation.decode(&object, type: type)
        if type.group == "apps" && type.resource == "deployments" { DeploymentStrategy.applyDefaults(&object) }
        if type.group == "apps" && type.resource == "statefulsets" { Self.applyStatefulSetDefaults(&object) }
        if type.group == "apps" && type.resource == "daemonsets" { Self.applyDaemonSetDefaults(&object) }
        if type == PriorityClasses.type { PriorityClasses.applyDefaults(&object) }
        PodDefaults.apply(&object, type: type)
        var causes = ObjectMetaValidation.causes(of: object, type: type) + SpecValidation.causes(of: object, type: type)
        causes += WorkloadValidation.causes(of: object, type: type)
        if type.group == "apps" && type.resource == "deployments" { causes += DeploymentStrategy.causes(of: object) }
        if !causes.isEmpty {
            throw Status.invalid(kind: type.kind, object[path: "metadata.name"]?.stringValue ?? "", causes: causes, group: type.group)
        }
    }
}

extension JSON {
    /// The object without the metadata the server maintains, to tell real changes from no-ops.
    var withoutVolatileMetadata: JSON {
        var copy = self
        copy[path: "metadata.resourceVersion"] = nil
        copy[path: "metadata.generation"] = nil
        copy[path: "metadata.managedFields"] = nil
        return copy
    }
}
