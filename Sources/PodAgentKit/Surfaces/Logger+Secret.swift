import Logging

extension Logger.MetadataValue {
    /// A secret's size in place of its content: `<redacted 42 bytes>`.
    ///
    /// The secret is measured and dropped right here, so neither a log handler nor anything
    /// that keeps the metadata ever holds it:
    /// ```swift
    /// logger.debug("token refreshed", metadata: ["token": .secret(token)])
    /// ```
    public static func secret(_ value: some StringProtocol) -> Logger.MetadataValue {
        .string("<redacted \(value.utf8.count) bytes>")
    }

    /// A secret's size in place of its content, for raw file contents.
    public static func secret(bytes: some Collection<UInt8>) -> Logger.MetadataValue {
        .string("<redacted \(bytes.count) bytes>")
    }
}
