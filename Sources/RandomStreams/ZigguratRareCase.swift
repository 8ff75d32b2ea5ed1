extension NormalStream {
    /// The ziggurat's wedge and tail cases for a candidate outside its layer's rectangle
    /// (Marsaglia & Tsang 2000, §2): each further uniform comes from the Philox block at
    /// counter `(counter, lane, domain)` for lanes `1, 2, …` in turn, so the normal stays a pure
    /// function of `(seed, domain, counter)` (lane 0 is the blocks' own: `counter` runs over
    /// `2 · index + member`, the lanes above 0 are unused by the sequence itself).
    ///
    /// Wedge (layers 1-255): a uniform height between the layer's bottom and top density,
    /// accepted when below `f(x)`, compared as `ln y < −x²/2` with PortableMath.log; rejected, the
    /// same block's words 2-3 make a fresh candidate. Tail (layer 0 beyond r): Marsaglia's method
    /// ("Generating a variable from the tail of the normal distribution", Technometrics 6 (1964)
    /// 101–102): `t = −ln(U₁)/r`, `y = −ln(U₂)`, accept `r + t` when `2y ≥ t²`, else a new block.
    @inline(never) @usableFromInline
    func zigguratRareCase(_ candidate: UInt64, counter: UInt64) -> Double {
        let layers = zigguratLayers
        let r = ZigguratLayer.r
        var bits = candidate
        var lane: UInt32 = 1
        while true {
            let i = Int(truncatingIfNeeded: bits & 0xff)
            let m = bits >> 11
            let sign: Double = bits & 0x100 != 0 ? -1 : 1
            if m < layers[i].bound {
                return sign * (Double(Int64(bitPattern: m)) * layers[i].scale)
            }
            if i == 0 {
                while true {
                    let block = generator.block(
                        (UInt32(truncatingIfNeeded: counter), UInt32(truncatingIfNeeded: counter >> 32), lane, domain))
                    lane &+= 1
                    let t = -PortableMath.log(Self.openUniform(block.0, block.1)) / r
                    let y = -PortableMath.log(Self.openUniform(block.2, block.3))
                    if y + y >= t * t { return sign * (r + t) }
                }
            }
            let block = generator.block(
                (UInt32(truncatingIfNeeded: counter), UInt32(truncatingIfNeeded: counter >> 32), lane, domain))
            lane &+= 1
            let x = Double(Int64(bitPattern: m)) * layers[i].scale
            let height = layers[i].density + Self.openUniform(block.0, block.1) * (layers[i + 1].density - layers[i].density)
            if PortableMath.log(height) < -0.5 * x * x { return sign * x }
            bits = UInt64(block.3) << 32 | UInt64(block.2)
        }
    }
}
