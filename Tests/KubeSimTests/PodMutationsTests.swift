import Foundation
import KubeAPI
@testable import KubeSim
import Testing
import TestSupport

/// What a real server's mutating admission adds to a new pod (the ServiceAccount plugin's token
/// volume and its account check, DefaultTolerationSeconds), and what the DaemonSet controller
/// adds to its pods, seen with the real `kubectl`.
@Suite struct PodMutationsTests {
    static func pod(_ name: String, spec extra: String = "", containers: String = "[{name: c, image: nginx}]") -> String {
        "apiVersion: v1\nkind: Pod\nmetadata: {name: \(name)}\nspec:\n  containers: \(containers)\n\(extra)"
    }

    @Test func everyContainerMountsTheAccountsTokenUnlessAutomountingIsOff() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            let containers = "[{name: c, image: nginx}, {name: own, image: nginx, volumeMounts: [{name: mine, mountPath: /var/run/secrets/kubernetes.io/serviceaccount}]}]"
            let pods = [
                Self.pod("plain", spec: "  initContainers: [{name: init, image: busybox}]\n  volumes: [{name: mine, emptyDir: {}}]\n", containers: containers),
                Self.pod("no-token", spec: "  automountServiceAccountToken: false\n"),
                Self.pod("quiet-account", spec: "  serviceAccountName: quiet\n"),
                Self.pod("pod-wins", spec: "  serviceAccountName: quiet\n  automountServiceAccountToken: true\n"),
            ]
            let account = "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: quiet}\nautomountServiceAccountToken: false\n"
            #expect(try await kubectl.run("create", "-f", "-", input: account).status == 0)
            for pod in pods {
                let created = try await kubectl.run("create", "-f", "-", input: pod)
                #expect(created.status == 0, "\(created.output)")
            }
            let volume = try await kubectl.run("get", "pod", "plain", "-o", "jsonpath={.spec.volumes[1].name}").output
            #expect(volume.hasPrefix("kube-api-access-") && volume.count == "kube-api-access-".count + 5, "\(volume)")
            #expect(volume.dropFirst("kube-api-access-".count).allSatisfy { PodMutations.nameAlphabet.contains($0) }, "\(volume)")
            let source = try await kubectl.run("get", "pod", "plain", "-o", "jsonpath={.spec.volumes[1].projected}").output
            let expected = """
                {"defaultMode":420,"sources":[{"serviceAccountToken":{"expirationSeconds":3607,"path":"token"}},\
                {"configMap":{"items":[{"key":"ca.crt","path":"ca.crt"}],"name":"kube-root-ca.crt"}},\
                {"downwardAPI":{"items":[{"fieldRef":{"apiVersion":"v1","fieldPath":"metadata.namespace"},"path":"namespace"}]}}]}
                """
            #expect(try JSONDecoder().decode(JSON.self, from: Data(source.utf8)) == JSONDecoder().decode(JSON.self, from: Data(expected.utf8)), "\(source)")
            // The init container and the first container get the token; the second keeps its own mount.
            let mounts = try await kubectl.run("get", "pod", "plain", "-o", """
                jsonpath={.spec.initContainers[0].volumeMounts[*].name}|{.spec.containers[0].volumeMounts[*].name}|\
                {.spec.containers[0].volumeMounts[0].mountPath}|{.spec.containers[0].volumeMounts[0].readOnly}|{.spec.containers[1].volumeMounts[*].name}
                """).output
            #expect(mounts == "\(volume)|\(volume)|/var/run/secrets/kubernetes.io/serviceaccount|true|mine", "\(mounts)")
            for (name, mounted) in [("no-token", false), ("quiet-account", false), ("pod-wins", true)] {
                let volumes = try await kubectl.run("get", "pod", name, "-o", "jsonpath={.spec.volumes[*].name}").output
                #expect(volumes.hasPrefix("kube-api-access-") == mounted, "\(name): \(volumes)")
            }
        }
    }

    @Test func aPodsAccountMustExistAndLendsItsPullSecrets() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            let pod = Self.pod("build", spec: "  serviceAccountName: builder\n")
            let refused = try await kubectl.run("create", "-f", "-", input: pod)
            #expect(refused.status != 0)
            #expect(refused.output.contains(
                #"pods "build" is forbidden: error looking up service account default/builder: serviceaccount "builder" not found"#
            ), "\(refused.output)")
            let account = "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: builder}\nimagePullSecrets: [{name: registry}]\n"
            #expect(try await kubectl.run("create", "-f", "-", input: account).status == 0)
            #expect(try await kubectl.run("create", "-f", "-", input: pod).status == 0)
            #expect(try await kubectl.run("get", "pod", "build", "-o", "jsonpath={.spec.imagePullSecrets[*].name}").output == "registry")
            // A pod naming its own pull secrets keeps them.
            #expect(try await kubectl.run("create", "-f", "-", input: Self.pod("own", spec: "  serviceAccountName: builder\n  imagePullSecrets: [{name: mine}]\n")).status == 0)
            #expect(try await kubectl.run("get", "pod", "own", "-o", "jsonpath={.spec.imagePullSecrets[*].name}").output == "mine")
        }
    }

    @Test func podsTolerateANodeNotReadyOrUnreachableForFiveMinutes() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            let pods = [
                Self.pod("plain"),
                Self.pod("own", spec: "  tolerations: [{key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 30}]\n"),
                Self.pod("every-key", spec: "  tolerations: [{operator: Exists}]\n"),
                Self.pod("no-schedule", spec: "  tolerations: [{key: node.kubernetes.io/unreachable, operator: Exists, effect: NoSchedule}]\n"),
            ]
            for pod in pods { #expect(try await kubectl.run("create", "-f", "-", input: pod).status == 0) }
            let query = "jsonpath={range .spec.tolerations[*]}{.key}:{.effect}:{.tolerationSeconds} {end}"
            let expected = [
                ("plain", "node.kubernetes.io/not-ready:NoExecute:300 node.kubernetes.io/unreachable:NoExecute:300"),
                ("own", "node.kubernetes.io/not-ready:NoExecute:30 node.kubernetes.io/unreachable:NoExecute:300"),
                ("every-key", "::"),
                ("no-schedule", "node.kubernetes.io/unreachable:NoSchedule: node.kubernetes.io/not-ready:NoExecute:300 node.kubernetes.io/unreachable:NoExecute:300"),
            ]
            for (name, tolerations) in expected {
                let shown = try await kubectl.run("get", "pod", name, "-o", query).output
                #expect(shown.trimmingCharacters(in: .whitespaces) == tolerations, "\(name): \(shown)")
            }
            // An update that leaves them out gets them back, so it is no forbidden change.
            let current = try await kubectl.run("get", "pod", "plain", "-o", "json").output
            var object = try JSONDecoder().decode(JSON.self, from: Data(current.utf8))
            object[path: "spec.tolerations"] = nil
            object[path: "metadata.labels"] = .object(["tier": .string("web")])
            let replaced = try await kubectl.run("replace", "-f", "-", input: String(decoding: object.serialized(), as: UTF8.self))
            #expect(replaced.status == 0, "\(replaced.output)")
            #expect(try await kubectl.run("get", "pod", "plain", "-o", query).output.trimmingCharacters(in: .whitespaces) == expected[0].1)
        }
    }

    @Test func aDaemonSetsPodsTolerateNodeConditionsAndRequireTheirNode() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            #expect(try await kubectl.run("apply", "-f", "-", input: ControllerRevisionTests.daemonSet).status == 0)
            try await eventually(within: 10, "a pod on each of the three nodes") {
                try await kubectl.run("get", "pods", "-l", "app=agent", "-o", "name").output.split(separator: "\n").count == 3
            }
            let placed = try await kubectl.run("get", "pods", "-l", "app=agent", "-o", """
                jsonpath={range .items[*]}{.spec.nodeName}={.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0].values[0]} {end}
                """).output
            let pairs = placed.split(separator: " ").map { $0.split(separator: "=", omittingEmptySubsequences: false).map(String.init) }
            #expect(pairs.count == 3 && pairs.allSatisfy { $0.count == 2 && !$0[0].isEmpty && $0[0] == $0[1] }, "\(placed)")
            let tolerations = try await kubectl.run("get", "pods", "-l", "app=agent", "-o", """
                jsonpath={range .items[0].spec.tolerations[*]}{.key}:{.operator}:{.effect}:{.tolerationSeconds} {end}
                """).output
            #expect(tolerations.trimmingCharacters(in: .whitespaces) == """
                node.kubernetes.io/not-ready:Exists:NoExecute: node.kubernetes.io/unreachable:Exists:NoExecute: \
                node.kubernetes.io/disk-pressure:Exists:NoSchedule: node.kubernetes.io/memory-pressure:Exists:NoSchedule: \
                node.kubernetes.io/pid-pressure:Exists:NoSchedule: node.kubernetes.io/unschedulable:Exists:NoSchedule:
                """, "\(tolerations)")
        }
    }
}
