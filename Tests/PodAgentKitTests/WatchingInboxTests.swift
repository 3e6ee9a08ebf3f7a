// The watch loop's input queue: nothing lost, each producer's order kept, with real threads.

import Foundation
import Testing

@testable import PodAgentKit

@Suite("Watch loop inbox")
struct WatchInboxTests {
    /// Four OS threads yield 5,000 inputs each while the consumer is sometimes waiting and sometimes
    /// behind: every input arrives exactly once, and each thread's inputs in the order it sent them.
    @Test func everyInputArrivesOnceInEachProducersOrder() async throws {
        let inbox = WatchInbox()
        let producers = 4
        let perProducer = 5_000
        for producer in 0..<producers {
            Thread.detachNewThread {
                for index in 0..<perProducer {
                    let event = InotifyEvent(
                        watch: nil, name: "\(producer)", mask: [], cookie: UInt32(index), seen: .now)
                    inbox.yield(.inotify(event))
                    if index % 500 == 0 { usleep(200) }  // let the consumer catch up and wait
                }
            }
        }
        var next = [UInt32](repeating: 0, count: producers)
        for _ in 0..<(producers * perProducer) {
            guard case .inotify(let event) = await inbox.next(), let producer = Int(event.name) else {
                Issue.record("unexpected input")
                return
            }
            #expect(event.cookie == next[producer], "producer \(producer) out of order")
            next[producer] = event.cookie + 1
        }
        #expect(next == [UInt32](repeating: UInt32(perProducer), count: producers))
    }

    /// An input yielded while the consumer waits wakes it; one yielded before it asks is kept for it.
    @Test func aWaitingConsumerIsWokenAndAnEarlyInputIsKept() async throws {
        let inbox = WatchInbox()
        inbox.yield(.timer)
        guard case .timer = await inbox.next() else { Issue.record("the early input was lost"); return }
        let consumer = Task { await inbox.next() }
        try await Task.sleep(for: .milliseconds(50))
        inbox.yield(.stop)
        guard case .stop = await consumer.value else { Issue.record("the waiting consumer got something else"); return }
    }
}
