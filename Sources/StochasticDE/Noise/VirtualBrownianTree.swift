import RandomStreams

/// A Brownian path on `[t0, t1]` that is a function of the seed alone: `W(t)` at any `t`, in
/// any order, on any thread, with O(1) memory in the number of queries (the virtual Brownian tree
/// of Gaines & Lyons 1997 as used by Li, Wong, Chen & Duvenaud, "Scalable gradients for
/// stochastic differential equations", AISTATS 2020, §4 and diffrax's `VirtualBrownianTree`).
///
/// Construction: `W(t0) = 0`; `W(t1) = √(t1 − t0) z₀`. Node `k` of the binary tree (root `1`,
/// children `2k`, `2k + 1`) covers `[a, b]` with known `W(a)`, `W(b)` and draws its midpoint
/// `m = a + ½(b − a)` by the bridge, `W(m) = ½(W(a) + W(b)) + ½√(b − a) z_k`, where `z_k` are the
/// normals at index `k` of ``NormalStream`` (the Brownian-tree domain; with one component,
/// nodes `2j` and `2j + 1` share the pair at index `j`, so siblings cost one Philox block). A query bisects from the
/// root towards `t`, stops when `t` is a midpoint, and after ``depth`` levels (leaf width at most
/// the tolerance) interpolates linearly inside the leaf.
///
/// **What is promised.** `W(t)` is a pure function of `(seed, t0, t1, tolerance, dimension,
/// auxiliary, t)`: bit for bit the same for any query order, with or without the cursor's cache,
/// on any thread and machine (``NormalStream`` evaluates its transform with IEEE basic operations).
/// The bisection points `a + ½(b − a)` down to ``depth`` levels (on a span such as `[0, 1]`,
/// exactly the dyadic times `k 2^-l`) are tree nodes with exact Brownian values; other times lie
/// inside a leaf and carry the linear interpolation's deficit in variance (at most
/// `tolerance/4` in `W(t)`), which is why the tolerance should be well below the step size.
///
/// Cost: a query from scratch evaluates up to ``depth`` nodes; ``BrownianTreeCursor`` keeps the
/// last root-to-leaf path (`depth` levels, independent of the number of queries), so a solve that
/// moves forward re-evaluates only the levels below the common ancestor of consecutive times.
public struct VirtualBrownianTree: Sendable {
    public let t0: Double
    public let t1: Double
    public let wienerCount: Int
    public let hasAuxiliary: Bool
    /// Number of bisection levels: leaves are `(t1 − t0)/2^depth ≤ tolerance` wide.
    public let depth: Int
    @usableFromInline let stream: NormalStream

    /// Components per time: `m`, or `2m` with the auxiliary process `Z`.
    @inlinable public var components: Int { hasAuxiliary ? 2 * wienerCount : wienerCount }

    public init(
        t0: Double, t1: Double, dimension m: Int, seed: UInt64, tolerance: Double, auxiliary: Bool = false
    ) throws(NoiseError) {
        guard m >= 1 else { throw .invalidArgument("a Brownian tree needs dimension ≥ 1, got \(m)") }
        guard t0.isFinite, t1.isFinite, t1 > t0 else {
            throw .invalidArgument("a Brownian tree needs finite t0 < t1, got (\(t0), \(t1))")
        }
        guard tolerance.isFinite, tolerance > 0 else { throw .invalidArgument("tolerance must be positive and finite, got \(tolerance)") }
        self.t0 = t0
        self.t1 = t1
        self.wienerCount = m
        self.hasAuxiliary = auxiliary
        var levels = 0
        var width = t1 - t0
        while width > tolerance && levels < 60 {
            width *= 0.5
            levels += 1
        }
        self.depth = levels
        self.stream = NormalStream(seed: seed, domain: NoiseDomain.brownianTree)
    }

    /// `W(t)` (and `Z(t)` after it, with the auxiliary process) from scratch (allocates a cursor;
    /// use ``BrownianTreeCursor`` for repeated queries).
    public func value(at t: Double, into w: inout [Double]) throws(NoiseError) {
        var cursor = BrownianTreeCursor(self)
        try cursor.value(at: t, into: &w)
    }
}

/// A ``VirtualBrownianTree`` with the last root-to-leaf path cached: same values bit for bit,
/// fewer node evaluations for nearby consecutive queries. Memory `O(depth × components)`.
/// Mutable per-solve state: each task makes its own.
///
/// Performance: a forward sweep evaluates each node's midpoint once; with one component the
/// two children of a node share one Philox block, and the pair is kept with the parent's level
/// (the walk comes back to the parent between the two children, so a single most-recent-pair
/// cache lost it whenever the left child had descendants: 1.23 instead of 0.82 blocks per query
/// on the sde-bench solve with leaves 0.61 step wide); with several components one block serves
/// two components (it served one, the other half discarded). The walk runs in static functions
/// on an unsafe pointer to the one array of levels (no uniqueness check per level, no retain of
/// `self`), with wrapping index arithmetic, and one component has its own walk with constant
/// offsets (``scalarValue(at:)``): per level the general loops with overflow checks cost about
/// 100 instructions. EM on scalar GBM over the tree (sde-bench `em-scalar+tree`, callgrind):
/// 1,608 instructions per step before, 1,341 with the pair cache, 1,021 with the scalar walk,
/// against 580 on a stored path (`em-scalar+grid`): 1.76x. Per increment of a 1000-step
/// sweep with tolerance 1e-3 (`tree-1e-3`): 1,020 before, 565 now (NoiseGrid 269, drawing a
/// WienerProcess 608).
public struct BrownianTreeCursor {
    public let tree: VirtualBrownianTree
    // Level l is `stride` doubles of `levels` from l·stride: a, b, whether the midpoint value is
    // known (0/1), whether the children's pair is known (0/1, one component only), that pair
    // (2), the node id (its bit pattern), then W(a), W(b), W(midpoint), `components` each.
    // Levels 0 ... valid are the path of the last query.
    @usableFromInline var levels: [Double]
    @usableFromInline let stride: Int
    @usableFromInline var valid = 0

    // Offsets inside a level.
    @usableFromInline static var midpointKnown: Int { 2 }
    @usableFromInline static var childPairKnown: Int { 3 }
    @usableFromInline static var childPair: Int { 4 }
    @usableFromInline static var node: Int { 6 }
    @usableFromInline static var values: Int { 7 }

    public init(_ tree: VirtualBrownianTree) {
        self.tree = tree
        let c = tree.components
        stride = Self.values + 3 * c
        levels = [Double](repeating: 0, count: (tree.depth + 1) * stride)
        levels[0] = tree.t0
        levels[1] = tree.t1
        levels[Self.node] = Double(bitPattern: 1)
        // W(t1) = √(t1 − t0) z₀ (no node has id 0; with one component z₀ is the first member of
        // the pair at index 0, the root's own normal the second).
        let scale = (tree.t1 - tree.t0).squareRoot()
        if c == 1 {
            levels[Self.values + 1] = scale * tree.stream.pair(index: 0, lane: 0).0
        } else {
            for k in 0..<c { levels[Self.values + c + k] = scale * tree.stream.normal(index: 0, component: k) }
        }
    }

    /// `W(t)` (then `Z(t)` with the auxiliary process) for `t` in `[t0, t1]`.
    @inlinable
    public mutating func value(at t: Double, into w: inout [Double]) throws(NoiseError) {
        let c = tree.components
        guard w.count == c else { throw .wrongLength(what: "w", expected: c, got: w.count) }
        if c == 1 {
            w[0] = try scalarValue(at: t)
            return
        }
        guard t >= tree.t0 && t <= tree.t1 else { throw .timeOutOfRange(requested: t, allowed: tree.t0...tree.t1) }
        if t == tree.t0 {
            for k in 0..<c { w[k] = 0 }
            return
        }
        let depth = tree.depth, st = stride, stream = tree.stream
        var l = valid
        levels.withUnsafeMutableBufferPointer { L in
            w.withUnsafeMutableBufferPointer { W in
                // The buffers have the sizes the initializer gave them (never empty).
                l = Self.walk(
                    L.baseAddress.unsafelyUnwrapped, W.baseAddress.unsafelyUnwrapped,
                    from: l, to: t, depth: depth, components: c, stride: st, stream: stream)
            }
        }
        valid = l
    }

    /// `W(t)` of a one-component tree (no auxiliary process) for `t` in `[t0, t1]`.
    @inlinable
    public mutating func scalarValue(at t: Double) throws(NoiseError) -> Double {
        guard tree.components == 1 else {
            throw .wrongLength(what: "w", expected: tree.components, got: 1)
        }
        guard t >= tree.t0 && t <= tree.t1 else { throw .timeOutOfRange(requested: t, allowed: tree.t0...tree.t1) }
        if t == tree.t0 { return 0 }
        let depth = tree.depth, stream = tree.stream
        var l = valid
        let w = levels.withUnsafeMutableBufferPointer { L in
            Self.walkScalar(L.baseAddress.unsafelyUnwrapped, from: &l, to: t, depth: depth, stream: stream)
        }
        valid = l
        return w
    }

    /// ``walk(_:_:from:to:depth:components:stride:stream:)`` for one component, with the level
    /// layout's offsets as constants (stride 10).
    @inlinable
    static func walkScalar(
        _ L: UnsafeMutablePointer<Double>, from level: inout Int, to t: Double, depth: Int, stream: NormalStream
    ) -> Double {
        let st = values &+ 3
        let wa = values, wb = values &+ 1, wm = values &+ 2
        if t == L[1] { return L[wb] }
        var l = level
        var base = l &* st
        while l > 0 && !(L[base] < t && t < L[base &+ 1]) {
            l &-= 1
            base &-= st
        }
        while true {
            let a = L[base], b = L[base &+ 1]
            if l == depth {
                // Leaf: linear interpolation (t is strictly inside).
                level = l
                let q = (t - a) / (b - a)
                return L[base &+ wa] + q * (L[base &+ wb] - L[base &+ wa])
            }
            let mid = a + 0.5 * (b - a)
            if L[base &+ midpointKnown] == 0 {
                let sd = 0.5 * (b - a).squareRoot()
                // z of node k: member k & 1 of the pair at index k >> 1 (the parent's id), kept
                // at the parent's level for the sibling; the root's is the pair at index 0.
                let z: Double
                if l == 0 {
                    z = stream.pair(index: 0, lane: 0).1
                } else {
                    let parent = base &- st
                    let node = L[base &+ Self.node].bitPattern
                    if L[parent &+ childPairKnown] == 0 {
                        let pair = stream.pair(index: node >> 1, lane: 0)
                        L[parent &+ childPair] = pair.0
                        L[parent &+ childPair &+ 1] = pair.1
                        L[parent &+ childPairKnown] = 1
                    }
                    z = L[parent &+ childPair &+ Int(node & 1)]
                }
                L[base &+ wm] = 0.5 * (L[base &+ wa] + L[base &+ wb]) + sd * z
                L[base &+ midpointKnown] = 1
            }
            if t == mid {
                level = l
                return L[base &+ wm]
            }
            let child = base &+ st
            let left = t < mid
            let node = L[base &+ Self.node].bitPattern
            L[child &+ Self.node] = Double(bitPattern: left ? node &* 2 : node &* 2 &+ 1)
            L[child] = left ? a : mid
            L[child &+ 1] = left ? mid : b
            L[child &+ wa] = left ? L[base &+ wa] : L[base &+ wm]
            L[child &+ wb] = left ? L[base &+ wm] : L[base &+ wb]
            L[child &+ midpointKnown] = 0
            L[child &+ childPairKnown] = 0
            l &+= 1
            base = child
        }
    }

    /// From the cached path down to `t` (up to its lowest level that still contains `t`, then
    /// down, drawing each new midpoint); writes `W(t)` and returns the level reached. Several
    /// components (see ``walkScalar(_:from:to:depth:stream:)`` for one).
    @inlinable
    static func walk(
        _ L: UnsafeMutablePointer<Double>, _ w: UnsafeMutablePointer<Double>,
        from start: Int, to t: Double, depth: Int, components c: Int, stride st: Int, stream: NormalStream
    ) -> Int {
        if t == L[1] {
            for k in 0..<c { w[k] = L[values &+ c &+ k] }
            return start
        }
        var l = start
        while l > 0 && !(L[l &* st] < t && t < L[l &* st &+ 1]) { l &-= 1 }
        while true {
            let base = l &* st
            let wa = base &+ values, wb = wa &+ c, wm = wb &+ c
            let a = L[base], b = L[base &+ 1]
            if l == depth {
                // Leaf: linear interpolation (t is strictly inside).
                let q = (t - a) / (b - a)
                for k in 0..<c { w[k] = L[wa &+ k] + q * (L[wb &+ k] - L[wa &+ k]) }
                return l
            }
            let mid = a + 0.5 * (b - a)
            if L[base &+ midpointKnown] == 0 {
                let sd = 0.5 * (b - a).squareRoot()
                let node = L[base &+ Self.node].bitPattern
                // Component j is member j & 1 of the pair at (node, lane j >> 1).
                var j = 0
                while j < c {
                    let pair = stream.pair(index: node, lane: UInt32(truncatingIfNeeded: j >> 1))
                    L[wm &+ j] = 0.5 * (L[wa &+ j] + L[wb &+ j]) + sd * pair.0
                    if j &+ 1 < c { L[wm &+ j &+ 1] = 0.5 * (L[wa &+ j &+ 1] + L[wb &+ j &+ 1]) + sd * pair.1 }
                    j &+= 2
                }
                L[base &+ midpointKnown] = 1
            }
            if t == mid {
                for k in 0..<c { w[k] = L[wm &+ k] }
                return l
            }
            let child = base &+ st
            let left = t < mid
            let node = L[base &+ Self.node].bitPattern
            L[child &+ Self.node] = Double(bitPattern: left ? node &* 2 : node &* 2 &+ 1)
            L[child] = left ? a : mid
            L[child &+ 1] = left ? mid : b
            let lo = left ? wa : wm, hi = left ? wm : wb
            for k in 0..<c {
                L[child &+ values &+ k] = L[lo &+ k]
                L[child &+ values &+ c &+ k] = L[hi &+ k]
            }
            L[child &+ midpointKnown] = 0
            l &+= 1
        }
    }
}

/// A ``VirtualBrownianTree`` as the noise of a solve: increments `W(t1) − W(t)` from the tree,
/// so a rejected step needs no memory (the tree already is the whole path) and a re-solve, a
/// backward adjoint pass or another step sequence sees the same path.
public struct BrownianTreeNoise: NoiseProcess {
    @usableFromInline var cursor: BrownianTreeCursor
    @usableFromInline var now: Double
    @usableFromInline var wNow: [Double]
    @usableFromInline var wNext: [Double]
    @usableFromInline var proposed: Double?

    public init(_ tree: VirtualBrownianTree) {
        cursor = BrownianTreeCursor(tree)
        now = tree.t0
        wNow = [Double](repeating: 0, count: tree.components)
        wNext = wNow
    }

    @inlinable public var wienerCount: Int { cursor.tree.wienerCount }
    @inlinable public var hasAuxiliary: Bool { cursor.tree.hasAuxiliary }
    @inlinable public var currentTime: Double { now }

    @inlinable
    public mutating func increment(to t1: Double, _ dW: inout [Double], _ dZ: inout [Double]) throws(NoiseError) {
        let m = wienerCount
        guard dW.count == m else { throw .wrongLength(what: "dW", expected: m, got: dW.count) }
        guard dZ.count == (hasAuxiliary ? m : 0) else {
            throw .wrongLength(what: "dZ", expected: hasAuxiliary ? m : 0, got: dZ.count)
        }
        guard t1 > now else { throw .timeOutOfRange(requested: t1, allowed: now.nextUp...cursor.tree.t1) }
        if cursor.tree.components == 1 {
            // One component: the scalar walk, no arrays in between (same value bit for bit).
            let w = try cursor.scalarValue(at: t1)
            wNext[0] = w
            dW[0] = w - wNow[0]
            proposed = t1
            return
        }
        try cursor.value(at: t1, into: &wNext)
        for k in 0..<m { dW[k] = wNext[k] - wNow[k] }
        if hasAuxiliary { for k in 0..<m { dZ[k] = wNext[m + k] - wNow[m + k] } }
        proposed = t1
    }

    @inlinable
    public mutating func accept() throws(NoiseError) {
        guard let t1 = proposed else { throw .nothingToAccept }
        now = t1
        swap(&wNow, &wNext)
        proposed = nil
    }

    @inlinable
    public mutating func rewind(to t: Double) throws(NoiseError) {
        try cursor.value(at: t, into: &wNow)
        now = t
        proposed = nil
    }
}
