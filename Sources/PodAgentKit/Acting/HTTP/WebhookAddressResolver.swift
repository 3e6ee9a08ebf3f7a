import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Turns a webhook host into addresses to try, in order.
///
/// An IPv4 or IPv6 literal is used as it is, with no lookup. A name is resolved by `getaddrinfo` (so
/// `/etc/hosts`, the pod's `resolv.conf` search list and `ndots` apply, as for any program in the pod),
/// which blocks: it runs on NIO's blocking thread pool, never on an event loop and never on libdispatch,
/// whose worker threads and timers would keep waking an idle podagent. The pool's threads are created
/// the first time a name is resolved and then sleep without timers.
enum WebhookAddressResolver {
    /// The addresses of `endpoint`, in `getaddrinfo`'s order (RFC 6724), without duplicates.
    static func addresses(
        of endpoint: WebhookEndpoint, on loop: any EventLoop, deadline: NIODeadline
    ) -> EventLoopFuture<[SocketAddress]> {
        if let literal = endpoint.literalAddress { return loop.makeSucceededFuture([literal]) }
        let host = endpoint.host
        let port = endpoint.port
        let lookup = NIOThreadPool.singleton.runIfActive(eventLoop: loop) {
            try resolve(host: host, port: port)
        }
        // getaddrinfo cannot be interrupted; past the deadline its answer is simply not waited for.
        let answer = loop.makePromise(of: [SocketAddress].self)
        let timeout = loop.scheduleTask(deadline: deadline) { answer.fail(WebhookTransportError.timedOut) }
        lookup.whenComplete { result in
            timeout.cancel()
            answer.completeWith(result)
        }
        return answer.futureResult
    }

    /// Blocking: `getaddrinfo` for TCP, any family.
    static func resolve(host: String, port: Int) throws -> [SocketAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        hints.ai_protocol = Int32(IPPROTO_TCP)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &list)
        guard status == 0 else {
            let detail = status == EAI_SYSTEM ? String(cString: strerror(errno)) : String(cString: gai_strerror(status))
            throw WebhookTransportError.cannotResolve(host: host, detail: detail)
        }
        defer { freeaddrinfo(list) }
        var addresses: [SocketAddress] = []
        var next = list
        while let info = next {
            next = info.pointee.ai_next
            guard let raw = info.pointee.ai_addr else { continue }
            var address: SocketAddress
            switch info.pointee.ai_family {
            case AF_INET:
                address = SocketAddress(raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee }, host: host)
            case AF_INET6:
                address = SocketAddress(raw.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee }, host: host)
            default:
                continue
            }
            address.port = port
            if !addresses.contains(address) { addresses.append(address) }
        }
        guard !addresses.isEmpty else {
            throw WebhookTransportError.cannotResolve(host: host, detail: "no IPv4 or IPv6 address")
        }
        return addresses
    }
}
