extension NormalStream {
    /// The ziggurat normal made from the 64 bits `bits` (layer from the low 8 bits, sign from
    /// bit 8, magnitude from the top 53), `counter` the normal's own number (`2 · index +
    /// member`), which addresses the further blocks of its rare wedge or tail case.
    ///
    /// Always inlined: the rectangle test is the common case (about 98.5% of draws); the rest is
    /// an out-of-line call.
    @inlinable @inline(__always)
    func zigguratCandidate(_ bits: UInt64, counter: UInt64, layers: UnsafePointer<ZigguratLayer>) -> Double {
        let layer = layers[Int(truncatingIfNeeded: bits & 0xff)]
        let m = bits >> 11
        if _fastPath(m < layer.bound) {
            // m < 2⁵³: the signed conversion is one instruction, the unsigned one a branch.
            let magnitude = Double(Int64(bitPattern: m)) * layer.scale
            return Double(bitPattern: magnitude.bitPattern | (bits & 0x100) << 55)
        }
        return zigguratRareCase(bits, counter: counter)
    }
}
