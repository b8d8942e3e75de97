import KubeAPI
import Testing

@Suite struct WatchLinesTests {
    static func text(_ lines: [[UInt8]]) -> [String] { lines.map { String(decoding: $0, as: UTF8.self) } }

    @Test func linesAreCutWhereverTheChunksEnd() throws {
        var lines = WatchLines(maxLine: 64)
        #expect(try lines.feed(Array("{\"a\":".utf8)).isEmpty)
        #expect(try Self.text(lines.feed(Array("1}\n{\"b\":2}\n\r\n  \n{\"c\"".utf8))) == ["{\"a\":1}", "{\"b\":2}"])
        #expect(try Self.text(lines.feed(Array(":3}\r\n".utf8))) == ["{\"c\":3}\r"])
        #expect(try lines.feed([]).isEmpty)
        // Many lines in one chunk, each returned once and in order.
        let many = (0..<1000).map { "{\"n\":\($0)}\n" }.joined()
        #expect(try Self.text(lines.feed(Array(many.utf8))) == (0..<1000).map { "{\"n\":\($0)}" })
    }

    @Test func aLineThatNeverEndsIsRefusedAtTheLimit() throws {
        var lines = WatchLines(maxLine: 64)
        #expect(try lines.feed(Array(repeating: UInt8(ascii: "x"), count: 64)).isEmpty)
        #expect(throws: WatchLines.TooLong.self) { try lines.feed([UInt8(ascii: "x")]) }
        // A long line that ends within the chunk is not held, so it is no refusal.
        var other = WatchLines(maxLine: 64)
        #expect(try other.feed(Array(repeating: UInt8(ascii: "y"), count: 100) + [UInt8(ascii: "\n")]).count == 1)
    }
}
