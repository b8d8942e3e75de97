/// Sizes as messages name them.
public enum ByteSize {
    /// `64 MiB`, `12 KiB` or `900 bytes`: the largest unit that divides `bytes` evenly.
    public static func describe(_ bytes: Int) -> String {
        if bytes >= 1 << 20, bytes % (1 << 20) == 0 { return "\(bytes >> 20) MiB" }
        if bytes >= 1 << 10, bytes % (1 << 10) == 0 { return "\(bytes >> 10) KiB" }
        return "\(bytes) bytes"
    }
}
