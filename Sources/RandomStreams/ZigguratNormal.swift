extension NormalStream {
    /// The ziggurat normal at `(index, member)`, `member` 0 or 1: Marsaglia & Tsang's 256-layer
    /// ziggurat ("The Ziggurat Method for Generating Random Variables", J. Stat. Softw. 5(8),
    /// 2000) applied to words 0-1 (member 0) or 2-3 (member 1) of the Philox4x32-10 block at
    /// counter `(index, 0, domain)`, read as one 64-bit value (word 1 or 3 high): layer from the
    /// low 8 bits, sign from bit 8, magnitude from the top 53.
    ///
    /// About 1.5% of draws fall outside their layer's rectangle; their wedge or tail test reads
    /// the blocks at counter `(2 · index + member, 1, 2, …)`. So each normal is a pure function of
    /// `(seed, domain, index, member)` whatever order the normals are drawn in, and the bits are
    /// the same on every machine (tables and tests use IEEE basic operations and PortableMath
    /// only).
    @inlinable
    public func zigguratNormal(index: UInt64, member: Int) -> Double {
        let block = generator.block(
            (UInt32(truncatingIfNeeded: index), UInt32(truncatingIfNeeded: index >> 32), 0, domain))
        let bits = member & 1 == 0
            ? UInt64(block.1) << 32 | UInt64(block.0)
            : UInt64(block.3) << 32 | UInt64(block.2)
        return zigguratCandidate(bits, counter: index &<< 1 | UInt64(member & 1), layers: zigguratLayers)
    }
}
