import Foundation
import KubeAPI
@testable import KubeSim
import Testing
import TestSupport

/// The `token` subresource of service accounts (`kubectl create token`) and the tokens it
/// issues, which the cluster accepts as the account while they are valid, seen with the real
/// `kubectl`.
@Suite struct ServiceAccountTokenTests {
    /// kubectl acting with `token` on `cluster`.
    static func kubectl(_ sim: TestKubeSim, _ cluster: String, token: String) throws -> Kubectl {
        try Kubectl(kubeconfig: sim.sim.kubeconfig(cluster: cluster, baseURL: sim.baseURL, user: "robot", token: token))
    }

    @Test func aTokenActsAsItsServiceAccountWhileItIsValid() async throws {
        try await TestKubeSim.with(clusters: ["a", "b"]) { sim in
            let admin = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { admin.remove() }
            #expect(try await admin.run("create", "serviceaccount", "robot").status == 0)
            let issued = try await admin.run("create", "token", "robot")
            #expect(issued.status == 0, "\(issued.output)")
            let token = issued.output.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(token.split(separator: ".").count == 3, "not a JWT: \(token)")
            let claims = try #require(Data(base64Encoded: Self.padded(String(token.split(separator: ".")[1]))))
            let decoded = try JSONDecoder().decode(JSON.self, from: claims)
            #expect(decoded["sub"] == .string("system:serviceaccount:default:robot") && decoded["kubernetes.io"]?["namespace"] == .string("default"), "\(decoded)")

            let robot = try Self.kubectl(sim, "a", token: token)
            defer { robot.remove() }
            let whoami = try await robot.run("auth", "whoami", "-o", "jsonpath={.status.userInfo.username} {.status.userInfo.groups}")
            #expect(whoami.output == #"system:serviceaccount:default:robot ["system:serviceaccounts","system:serviceaccounts:default","system:authenticated"]"#, "\(whoami.output)")
            let refused = try await robot.run("get", "pods")
            #expect(refused.output.contains(#"User "system:serviceaccount:default:robot" cannot list resource "pods" in API group "" in the namespace "default""#), "\(refused.output)")
            #expect(try await admin.run("create", "rolebinding", "robot-view", "--clusterrole=view", "--serviceaccount=default:robot").status == 0)
            #expect(try await robot.run("get", "pods").status == 0)
            // Another cluster does not know the token.
            let elsewhere = try Self.kubectl(sim, "b", token: token)
            defer { elsewhere.remove() }
            let foreign = try await elsewhere.run("get", "pods")
            #expect(Self.unauthorized(foreign.output), "\(foreign.output)")
            // The account deleted, and made again under the same name: the token is dead.
            #expect(try await admin.run("delete", "serviceaccount", "robot").status == 0)
            #expect(try await admin.run("create", "serviceaccount", "robot").status == 0)
            #expect(Self.unauthorized(try await robot.run("get", "pods").output))
        }
    }

    @Test func tokenRequestsAreCheckedAsARealServerChecksThem() async throws {
        try await TestKubeSim.with { sim in
            let admin = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { admin.remove() }
            #expect(try await admin.run("create", "serviceaccount", "robot").status == 0)
            let short = try await admin.run("create", "token", "robot", "--duration=5m")
            #expect(short.status != 0 && short.output.contains("spec.expirationSeconds: Invalid value: 300: may not specify a duration less than 10 minutes"), "\(short.output)")
            let missing = try await admin.run("create", "token", "nobody")
            #expect(missing.status != 0 && missing.output.contains(#"serviceaccounts "nobody" not found"#), "\(missing.output)")
            // A token for another audience is not the API server's to accept.
            let foreign = try await admin.run("create", "token", "robot", "--audience=https://vault.example")
            #expect(foreign.status == 0)
            let vault = try Self.kubectl(sim, "a", token: foreign.output.trimmingCharacters(in: .whitespacesAndNewlines))
            defer { vault.remove() }
            #expect(Self.unauthorized(try await vault.run("auth", "whoami").output))
            // Bound to a pod, a token ends with it.
            #expect(try await admin.run("run", "holder", "--image=nginx").status == 0)
            let bound = try await admin.run("create", "token", "robot", "--bound-object-kind=Pod", "--bound-object-name=holder")
            #expect(bound.status == 0, "\(bound.output)")
            let holder = try Self.kubectl(sim, "a", token: bound.output.trimmingCharacters(in: .whitespacesAndNewlines))
            defer { holder.remove() }
            #expect(try await holder.run("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}").output == "system:serviceaccount:default:robot")
            #expect(try await admin.run("delete", "pod", "holder", "--grace-period=0", "--force").status == 0)
            #expect(Self.unauthorized(try await holder.run("auth", "whoami").output))
            let unbound = try await admin.run("create", "token", "robot", "--bound-object-kind=Pod", "--bound-object-name=nowhere")
            #expect(unbound.status != 0 && unbound.output.contains(#"pods "nowhere" not found"#), "\(unbound.output)")
            // Minting a token is `create` on `serviceaccounts/token`: a viewer may not.
            sim.sim.addToken("viewer-token", user: "vera")
            #expect(try await admin.run("create", "rolebinding", "vera-view", "--clusterrole=view", "--user=vera").status == 0)
            let vera = try Self.kubectl(sim, "a", token: "viewer-token")
            defer { vera.remove() }
            let denied = try await vera.run("create", "token", "robot")
            #expect(denied.output.contains(#"User "vera" cannot create resource "serviceaccounts/token" in API group "" in the namespace "default""#), "\(denied.output)")
        }
    }

    /// kubectl's words for a 401: `Unauthorized`, or, while it reads discovery, that the server
    /// "has asked for the client to provide credentials".
    static func unauthorized(_ output: String) -> Bool {
        output.contains("Unauthorized") || output.contains("the server has asked for the client to provide credentials")
    }

    static func padded(_ base64URL: String) -> String {
        let plain = base64URL.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        return plain + String(repeating: "=", count: (4 - plain.count % 4) % 4)
    }
}
