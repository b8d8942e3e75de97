import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

extension KubeClient {
    /// Sends a request on someone's behalf, as they wrote it, and hands back the answer unread
    /// (its body streams): the kube proxy's one call. The request carries this client's own
    /// credential and `impersonation` (replacing any the caller sent); `headers` are the caller's
    /// other headers, forwarded as they are; `body` (streamed or not) is sent as it comes. No
    /// retries: the caller decides (a streamed body cannot be sent twice anyway).
    ///
    /// Throws `KubeError(.unreachable | .tls | .timeout)` when no answer came.
    public func forward(
        _ method: HTTPMethod, pathAndQuery: String, headers: HTTPHeaders, body: HTTPClientRequest.Body?,
        impersonation: Impersonation?, timeout: TimeAmount
    ) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: requestBase + pathAndQuery)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        addCredential(to: &request)
        if let impersonation {
            request.headers.add(name: "Impersonate-User", value: impersonation.user)
            for group in impersonation.groups { request.headers.add(name: "Impersonate-Group", value: group) }
        }
        if let body { request.body = body }
        do {
            return try await http.execute(request, timeout: timeout)
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            throw KubeError(.timeout, "\(method) \(connection.server) did not answer in time")
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw KubeError(.unreachable, "\(connection.server) cannot be reached: \(error)")
        }
    }
}
