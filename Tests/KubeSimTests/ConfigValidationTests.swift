import Foundation
import KubeAPI
import KubeClient
@testable import KubeSim
import Testing
import TestSupport

/// ConfigMaps and Secrets are read and checked as a real server reads and checks them: bytes in
/// base64, `stringData` folded into `data`, 1 MiB at most, the keys a Secret's type needs, and
/// nothing changed once `immutable` is set.
@Suite struct ConfigValidationTests {
    @Test func secretsKeepTheirBytesAsARealServerKeepsThem() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            let applied = try await kubectl.run("apply", "-f", "-", input: """
                apiVersion: v1
                kind: Secret
                metadata: {name: db}
                data: {user: YWRtaW4=, password: b2xk}
                stringData: {password: s3cret}
                """)
            #expect(applied.status == 0, "\(applied.output)")
            let stored = try await kubectl.run("get", "secret", "db", "-o", "jsonpath={.type} {.data.user} {.data.password} {.stringData}")
            #expect(stored.output == "Opaque YWRtaW4= czNjcmV0 ", "stringData wins over data and is not kept: \(stored.output)")

            let bad = try await kubectl.run("apply", "-f", "-", input: "apiVersion: v1\nkind: Secret\nmetadata: {name: bad}\ndata: {key: not base64!}\n")
            #expect(bad.status != 0)
            #expect(bad.output.contains(#"Error from server (BadRequest): error when creating "STDIN": Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 3"#), "\(bad.output)")

            let tls = try await kubectl.run("create", "-f", "-", input: "apiVersion: v1\nkind: Secret\nmetadata: {name: tls}\ntype: kubernetes.io/tls\nstringData: {ca.crt: x}\n")
            #expect(tls.output.contains("The Secret \"tls\" is invalid: \n* data[tls.crt]: Required value\n* data[tls.key]: Required value"), "\(tls.output)")
            let retyped = try await kubectl.run("patch", "secret", "db", "--type=merge", "-p", #"{"type":"example.com/custom"}"#)
            #expect(retyped.output.contains(#"Secret "db" is invalid: type: Invalid value: "example.com/custom": field is immutable"#), "\(retyped.output)")
            #expect(try await kubectl.run("get", "secret", "-o", "name").output.split(separator: "\n") == ["secret/db"])
        }
    }

    @Test func configMapsOver1MiBAndChangesToImmutableOnesAreRefused() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("big-\(UUID().uuidString).bin")
            defer { try? FileManager.default.removeItem(at: file) }
            try Data(repeating: UInt8(ascii: "x"), count: ConfigValidation.maxSize + 1).write(to: file)
            let big = try await kubectl.run("create", "configmap", "big", "--from-file=payload=\(file.path)")
            #expect(big.status != 0 && big.output.contains(#"ConfigMap "big" is invalid: []: Too long: may not be more than 1048576 bytes"#), "\(big.output)")
            try Data(repeating: UInt8(ascii: "x"), count: ConfigValidation.maxSize).write(to: file)
            #expect(try await kubectl.run("create", "configmap", "big", "--from-file=payload=\(file.path)").status == 0, "1 MiB exactly is allowed")

            #expect(try await kubectl.run("create", "-f", "-", input: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: frozen}\nimmutable: true\ndata: {a: b}\n").status == 0)
            let changed = try await kubectl.run("patch", "configmap", "frozen", "--type=merge", "-p", #"{"data":{"a":"c"}}"#)
            #expect(changed.output.contains("ConfigMap \"frozen\" is invalid: data: Forbidden: field is immutable when `immutable` is set"), "\(changed.output)")
            let thawed = try await kubectl.run("patch", "configmap", "frozen", "--type=merge", "-p", #"{"immutable":false}"#)
            #expect(thawed.output.contains("immutable: Forbidden: field is immutable when `immutable` is set"), "\(thawed.output)")
            #expect(try await kubectl.run("label", "configmap", "frozen", "team=a").status == 0, "its metadata still changes")
            #expect(try await kubectl.run("get", "configmap", "frozen", "-o", "jsonpath={.data.a}").output == "b")

            let twice = try await kubectl.run("create", "-f", "-", input: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: twice}\ndata: {a: b}\nbinaryData: {a: YQ==, b: not-base64}\n")
            #expect(twice.output.contains(#"ConfigMap in version "v1" cannot be handled as a ConfigMap: illegal base64 data at input byte 3"#), "\(twice.output)")
            let duplicate = try await kubectl.run("create", "-f", "-", input: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: twice}\ndata: {a: b}\nbinaryData: {a: YQ==}\n")
            #expect(duplicate.output.contains(#"ConfigMap "twice" is invalid: data[a]: Invalid value: "a": duplicate of key present in binaryData"#), "\(duplicate.output)")
        }
    }

    @Test(arguments: [
        ("YWJj", nil), ("YWI=", nil), ("YQ==", nil), ("YW\nJj\r\n", nil), ("", nil), ("not base64!", 3), ("YWJjZA", 4), ("YWJ", 0),
        ("Y===", 1), ("YQ==YQ==", 4), ("YW=x", 2), ("YW=", 3), ("YWJjY", 4), ("YWJ-", 3),
    ] as [(String, Int?)])
    func base64IsReadAsGoReadsIt(text: String, stopsAt: Int?) {
        #expect(ConfigValidation.base64Problem(text) == stopsAt)
    }
}
