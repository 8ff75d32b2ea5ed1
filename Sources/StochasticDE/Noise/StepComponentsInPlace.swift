import RandomStreams

extension NormalStream {
    /// Moves components `range` of a path that holds two points, `points[0..<c]` the older and
    /// `points[c..<2c]` the head (`c` = `components`), one step: each head component `W` becomes
    /// the older point, `W + scale z` the new head, with the next normals `z` of lane 0's
    /// sequence (``nextLaneZeroNormal(count:spare:)``, components in order), and its increment
    /// goes to `increments[k − range.lowerBound]`. The increment is the new head's difference
    /// from `W`, not `scale z` (which can differ in the last bit), so that it is the difference
    /// of the path's stored points.
    ///
    /// The one in-place step of ``BrownianPath/advanceInPlace(to:m:_:_:)`` and of
    /// ``WienerRun/advance(to:into:)``, which must draw the same path bit for bit.
    @inlinable @inline(__always)
    func stepComponents(
        _ range: Range<Int>, of points: inout [Double], components c: Int, scale: Double, count: inout UInt64,
        spare: inout Double, increments: inout [Double]
    ) {
        let offset = range.lowerBound
        for k in range {
            let old = points[c + k]
            let new = old + scale * nextLaneZeroNormal(count: &count, spare: &spare)
            points[k] = old
            points[c + k] = new
            increments[k - offset] = new - old
        }
    }
}
