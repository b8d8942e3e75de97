import CanopyStore
import Hummingbird
import Prometheus

/// Unauthenticated endpoints for operators and tools: health, readiness, metrics, the API document.
struct OperationalRoutes {
    let services: APIServices
    let registry: PrometheusCollectorRegistry

    func register(on router: Router<CanopyRequestContext>) {
        router.get("healthz") { _, _ in Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ok\n"))) }
        router.get("readyz") { _, _ in
            try await services.world.store.ping()
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ready\n")))
        }
        router.get("metrics") { _, _ in
            var bytes: [UInt8] = []
            registry.emit(into: &bytes)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(bytes: bytes))
            )
        }
        router.get("api/v1/openapi.yaml") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/yaml"],
                body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.bundled.text))
            )
        }
    }
}
