import Foundation
import KubeAPI
import KubeClient
import KubeSim
import Testing
import TestSupport

@Suite struct PodSecurityTests {
    func namespace(_ name: String, level: String) -> Namespace {
        Namespace(metadata: ObjectMeta(name: name, labels: ["pod-security.kubernetes.io/enforce": level]))
    }

    func create(_ kube: KubeClient, _ pod: JSON, in namespace: String) async throws -> Status? {
        do {
            _ = try await kube.send(.POST, "/api/v1/namespaces/\(namespace)/pods", body: JSONEncoder().encode(pod))
            return nil
        } catch let error as KubeError {
            return error.status
        }
    }

    static func pod(_ name: String, spec: JSON) -> JSON {
        .object(["apiVersion": .string("v1"), "kind": .string("Pod"), "metadata": .object(["name": .string(name)]), "spec": spec])
    }

    @Test func baselineRefusesPrivilegeHostAccessAndCapabilities() async throws {
        try await TestKubeSim.with { sim in
            let kube = try KubeClient(connection: Kubeconfig(yaml: sim.kubeconfig("a")).connection())
            _ = try await kube.create(namespace("base", level: "baseline"))
            let bad = Self.pod("bad", spec: .object([
                "hostNetwork": .bool(true),
                "containers": .array([.object([
                    "name": .string("c"), "image": .string("nginx"),
                    "securityContext": .object(["privileged": .bool(true), "capabilities": .object(["add": .array([.string("NET_ADMIN"), .string("CHOWN")])])]),
                    "ports": .array([.object(["containerPort": .number(80), "hostPort": .number(8080)])]),
                ])]),
                "volumes": .array([.object(["name": .string("root"), "hostPath": .object(["path": .string("/")])])]),
            ]))
            let status = try await create(kube, bad, in: "base")
            #expect(status?.code == 403)
            #expect(status?.message == "pods \"bad\" is forbidden: violates PodSecurity \"baseline:latest\": host namespaces (hostNetwork=true), privileged (container \"c\" must not set securityContext.privileged=true), non-default capabilities (container \"c\" must not include \"NET_ADMIN\" in securityContext.capabilities.add), hostPath volumes (volume \"root\"), hostPort (container \"c\" uses hostPort 8080)")
            let plain = Self.pod("plain", spec: .object(["containers": .array([.object(["name": .string("c"), "image": .string("nginx")])])]))
            #expect(try await create(kube, plain, in: "base") == nil)
        }
    }

    @Test func restrictedNeedsTheHardenedSettings() async throws {
        try await TestKubeSim.with { sim in
            let kube = try KubeClient(connection: Kubeconfig(yaml: sim.kubeconfig("a")).connection())
            _ = try await kube.create(namespace("strict", level: "restricted"))
            let plain = Self.pod("plain", spec: .object(["containers": .array([.object(["name": .string("c"), "image": .string("nginx")])])]))
            let status = try await create(kube, plain, in: "strict")
            #expect(status?.message == "pods \"plain\" is forbidden: violates PodSecurity \"restricted:latest\": allowPrivilegeEscalation != false (container \"c\" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container \"c\" must set securityContext.capabilities.drop=[\"ALL\"]), runAsNonRoot != true (pod or container \"c\" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container \"c\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")")
            let hardened = Self.pod("hardened", spec: .object([
                "securityContext": .object(["runAsNonRoot": .bool(true), "seccompProfile": .object(["type": .string("RuntimeDefault")])]),
                "containers": .array([.object([
                    "name": .string("c"), "image": .string("nginx"),
                    "securityContext": .object(["allowPrivilegeEscalation": .bool(false), "capabilities": .object(["drop": .array([.string("ALL")])])]),
                ])]),
            ]))
            #expect(try await create(kube, hardened, in: "strict") == nil)
        }
    }
}
