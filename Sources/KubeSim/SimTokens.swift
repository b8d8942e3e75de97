import Foundation
import Hummingbird
import KubeAPI
import Synchronization

/// The tokens a cluster issued through the `token` subresource of its service accounts
/// (TokenRequest, `kubectl create token`), which it then accepts as the account: a JWT in form
/// (header, claims, signature) whose signature is random, known only to this cluster, so a token
/// of one cluster means nothing to another.
final class ServiceAccountTokens: Sendable {
    struct Issued: Sendable {
        let namespace: String
        let name: String
        let uid: String
        let audiences: [String]
        let expires: Date
        /// The object the token is bound to (its type, name and uid), if any: the token ends with it.
        let bound: (type: ResourceType, name: String, uid: String)?
    }

    private let issued = Mutex<[String: Issued]>([:])

    func issue(_ token: Issued, now: Date) -> String {
        func base64URL(_ bytes: some Sequence<UInt8>) -> String {
            Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
        }
        let subject = "system:serviceaccount:\(token.namespace):\(token.name)"
        let claims: JSON = .object([
            "aud": .array(token.audiences.map(JSON.string)), "exp": .number(token.expires.timeIntervalSince1970.rounded(.down)),
            "iat": .number(now.timeIntervalSince1970.rounded(.down)), "nbf": .number(now.timeIntervalSince1970.rounded(.down)),
            "iss": .string(SimCluster.apiAudience), "jti": .string(UUID().uuidString.lowercased()), "sub": .string(subject),
            "kubernetes.io": .object([
                "namespace": .string(token.namespace),
                "serviceaccount": .object(["name": .string(token.name), "uid": .string(token.uid)]),
            ]),
        ])
        let header: JSON = .object(["alg": .string("RS256"), "kid": .string("kubesim")])
        let signature = (0..<256).map { _ in UInt8.random(in: 0...255) }
        let jwt = [base64URL(header.serialized()), base64URL(claims.serialized()), base64URL(signature)].joined(separator: ".")
        issued.withLock { issued in
            issued = issued.filter { $0.value.expires > now }
            issued[jwt] = token
        }
        return jwt
    }

    func lookup(_ token: String) -> Issued? { issued.withLock { $0[token] } }
}

extension SimCluster {
    /// The audience of the cluster's API server (`--api-audiences`, the issuer by default).
    static let apiAudience = "https://kubernetes.default.svc.cluster.local"

    /// The service account a token issued by this cluster stands for, while it is valid: not
    /// expired, for the API server's audience, its account (and the object it is bound to) still
    /// there with the same uid. Groups as a real server gives them.
    func serviceAccountUser(forToken token: String) -> KubeSim.UserInfo? {
        guard let issued = serviceAccountTokens.lookup(token), issued.expires > clock(), issued.audiences.contains(Self.apiAudience) else { return nil }
        func exists(_ type: ResourceType, _ namespace: String?, _ name: String, uid: String) -> Bool {
            (try? get(type, namespace: namespace, name: name))?[path: "metadata.uid"]?.stringValue == uid
        }
        guard exists(Self.serviceAccounts, issued.namespace, issued.name, uid: issued.uid) else { return nil }
        if let bound = issued.bound, !exists(bound.type, bound.type.isNamespaced ? issued.namespace : nil, bound.name, uid: bound.uid) { return nil }
        return KubeSim.UserInfo(
            name: "system:serviceaccount:\(issued.namespace):\(issued.name)",
            groups: ["system:serviceaccounts", "system:serviceaccounts:\(issued.namespace)", "system:authenticated"]
        )
    }
}

extension SimVerbs {
    /// `POST …/serviceaccounts/<name>/token`: a TokenRequest answered with a token for the
    /// account, as a real server answers it (201): `audiences` default to the API server's,
    /// `expirationSeconds` to 3600 and at least 600; a `boundObjectRef` (a Pod, Secret or Node
    /// that exists, its uid matching if given) ends the token with that object.
    func requestToken(_ name: String) async throws -> Response {
        guard request.request.method == .post else { throw Self.methodNotAllowed }
        let namespace = target.namespace ?? ""
        var tokenRequest = try await body()
        let account = try cluster.get(SimCluster.serviceAccounts, namespace: namespace, name: name)
        let seconds = tokenRequest[path: "spec.expirationSeconds"]?.numberValue ?? 3600
        let invalid: String? = if seconds < 600 { "may not specify a duration less than 10 minutes" } else if seconds > 4_294_967_296 {
            "may not specify a duration larger than 2^32 seconds"
        } else { nil }
        if let invalid {
            throw Status.invalid(kind: "TokenRequest", name, causes: [
                Status.Cause(reason: "FieldValueInvalid", message: "Invalid value: \(Int(seconds)): \(invalid)", field: "spec.expirationSeconds"),
            ], group: "authentication.k8s.io")
        }
        let audiences = (tokenRequest[path: "spec.audiences"]?.arrayValue ?? []).compactMap(\.stringValue)
        var bound: (type: ResourceType, name: String, uid: String)?
        if let reference = tokenRequest[path: "spec.boundObjectRef"], reference != .null {
            let kind = reference["kind"]?.stringValue ?? "", apiVersion = reference["apiVersion"]?.stringValue ?? ""
            let resource = ["Pod": "pods", "Secret": "secrets", "Node": "nodes"][kind]
            guard let resource, apiVersion == "v1" || apiVersion.isEmpty else {
                // Go's `GroupVersionKind.String()`: `/v1, Kind=ConfigMap`, `apps/v1, Kind=Deployment`.
                throw Status(code: 400, reason: "BadRequest", message: "cannot bind token to object of type \(apiVersion.contains("/") ? "" : "/")\(apiVersion), Kind=\(kind)")
            }
            let type = SimCluster.type(resource), objectName = reference["name"]?.stringValue ?? ""
            let object = try cluster.get(type, namespace: type.isNamespaced ? namespace : nil, name: objectName)
            let uid = object[path: "metadata.uid"]?.stringValue ?? ""
            if let given = reference["uid"]?.stringValue, !given.isEmpty, given != uid {
                throw Status(code: 409, reason: "Conflict", message: """
                    Operation cannot be fulfilled on \(kind) "\(objectName)": the UID in the bound object reference (\(given)) does not match \
                    the UID in record. The object might have been deleted and then recreated
                    """)
            }
            bound = (type, objectName, uid)
        }
        let now = cluster.clock()
        let issued = ServiceAccountTokens.Issued(
            namespace: namespace, name: name, uid: account[path: "metadata.uid"]?.stringValue ?? "",
            audiences: audiences.isEmpty ? [SimCluster.apiAudience] : audiences, expires: now.addingTimeInterval(seconds), bound: bound
        )
        let token = cluster.serviceAccountTokens.issue(issued, now: now)
        tokenRequest["apiVersion"] = .string("authentication.k8s.io/v1")
        tokenRequest["kind"] = .string("TokenRequest")
        tokenRequest["metadata"] = .object(["name": .string(name), "namespace": .string(namespace), "creationTimestamp": .null])
        tokenRequest[path: "spec.audiences"] = .array(issued.audiences.map(JSON.string))
        tokenRequest[path: "spec.expirationSeconds"] = .number(seconds)
        if tokenRequest[path: "spec.boundObjectRef"] == nil { tokenRequest[path: "spec.boundObjectRef"] = .null }
        tokenRequest["status"] = .object(["token": .string(token), "expirationTimestamp": .string(KubeTime.format(issued.expires))])
        return SimAPI.json(tokenRequest, status: .created)
    }
}
