extension String {
    /// Without leading and trailing whitespace: a file's final newline, padding a person typed around
    /// a flag value, the blank end of a command's stderr.
    func trimmingWhitespace() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}
