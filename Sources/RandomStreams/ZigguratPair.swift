extension NormalStream {
    /// The two ziggurat normals at `index`: members 0 and 1 of ``zigguratNormal(index:member:)``,
    /// from one Philox block (lane 0) unless a rare case needs more.
    ///
    /// The lane-0 sequence of path stream version 3 (``sequential(_:)``): normal `n` is member
    /// `n mod 2` at index `⌊n/2⌋`. Always inlined, as ``pair(index:lane:)``.
    @inlinable @inline(__always)
    public func zigguratPair(index: UInt64) -> (Double, Double) {
        let layers = zigguratLayers
        let block = generator.block(
            (UInt32(truncatingIfNeeded: index), UInt32(truncatingIfNeeded: index >> 32), 0, domain))
        let counter = index &<< 1
        let a = zigguratCandidate(UInt64(block.1) << 32 | UInt64(block.0), counter: counter, layers: layers)
        let b = zigguratCandidate(UInt64(block.3) << 32 | UInt64(block.2), counter: counter | 1, layers: layers)
        return (a, b)
    }
}
