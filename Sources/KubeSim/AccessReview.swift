import Foundation
import Hummingbird
import KubeAPI

/// `SelfSubjectAccessReview` (may I?) and `SubjectAccessReview` (may they?), answered by the
/// same RBAC authorizer that guards every request, and `SelfSubjectReview` (who am I?: `kubectl
/// auth whoami`), the identity the request was served as, impersonation applied. Reviews are not
/// stored.
struct AccessReview {
    let cluster: SimCluster
    let caller: KubeSim.UserInfo
    let request: Request

    func respond(_ type: ResourceType) async throws -> Response {
        guard request.method == .post else {
            throw Status(code: 405, reason: "MethodNotAllowed", message: "the server does not allow this method on the requested resource")
        }
        var review = try await SimBody.read(request)
        let subject: KubeSim.UserInfo
        if type.resource == "subjectaccessreviews" {
            let name = review[path: "spec.user"]?.stringValue ?? ""
            let groups = review[path: "spec.groups"]?.arrayValue?.compactMap(\.stringValue) ?? []
            guard !name.isEmpty || !groups.isEmpty else {
                throw Status.invalid(kind: type.kind, "", causes: [Status.Cause(reason: "FieldValueInvalid", message: "Invalid value: \"\": at least one of user or group must be specified", field: "spec.user")], group: type.group)
            }
            subject = KubeSim.UserInfo(name: name, groups: groups)
        } else {
            subject = caller
        }
        var attributes: RequestAttributes
        if let resource = review[path: "spec.resourceAttributes"] {
            attributes = RequestAttributes(
                verb: resource["verb"]?.stringValue ?? "", group: resource["group"]?.stringValue ?? "",
                resource: resource["resource"]?.stringValue ?? "", subresource: resource["subresource"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 },
                namespace: resource["namespace"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }, name: resource["name"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
            )
            if attributes.resource == "namespaces", let name = attributes.name { attributes.namespace = name }
        } else if let nonResource = review[path: "spec.nonResourceAttributes"] {
            attributes = RequestAttributes(verb: nonResource["verb"]?.stringValue ?? "", path: nonResource["path"]?.stringValue ?? "")
        } else {
            throw Status.invalid(kind: type.kind, "", causes: [Status.Cause(reason: "FieldValueInvalid", message: "Invalid value: null: exactly one of nonResourceAttributes or resourceAttributes must be specified", field: "spec")], group: type.group)
        }
        let allowed = RBACAuthorizer(cluster: cluster).allows(subject, attributes)
        review["apiVersion"] = .string(type.apiVersion)
        review["kind"] = .string(type.kind)
        review[path: "metadata.creationTimestamp"] = .null
        review["status"] = .object(["allowed": .bool(allowed)].merging(allowed ? ["reason": .string("RBAC: allowed")] : [:]) { first, _ in first })
        return SimAPI.json(review, status: .created)
    }

    func whoAmI(_ type: ResourceType) async throws -> Response {
        guard request.method == .post else {
            throw Status(code: 405, reason: "MethodNotAllowed", message: "the server does not allow this method on the requested resource")
        }
        // The review has no spec: its body (protobuf from kubectl) says nothing to read.
        _ = try await request.body.collect(upTo: 1 << 20)
        let review: JSON = .object([
            "kind": .string(type.kind), "apiVersion": .string(type.apiVersion), "metadata": .object(["creationTimestamp": .null]),
            "status": .object(["userInfo": .object([
                "username": .string(caller.name), "groups": .array(caller.groups.map(JSON.string)),
            ])]),
        ])
        return SimAPI.json(review, status: .created)
    }
}
