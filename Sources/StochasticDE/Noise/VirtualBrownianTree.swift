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
/// Dyadic times `t0 + k 2^-l (t1 − t0)` with `l ≤ depth` are tree nodes, exact Brownian values;
/// other times are within one leaf of a node and carry the linear interpolation's deficit in
/// variance (at most `tolerance/4` in `W(t)`), which is why the tolerance should be well below
/// the step size.
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
/// Performance: a forward sweep with leaves about one step wide costs about one normal pair per
/// query (siblings share a Philox block), but the cursor's own bookkeeping (walking up to the
/// common ancestor, copying end values into the child levels through seven arrays) is about
/// three times the pair's ~200 instructions: 133 ns per increment against 91 ns for a
/// ``WienerProcess`` drawing as it goes and 16 ns for a ``NoiseGrid`` (sde-bench). Flat
/// per-level storage without per-write uniqueness checks is the next step; the goal of
/// 2x a stored path inside a solve is not met (4.9x for EM on scalar GBM).
public struct BrownianTreeCursor {
    public let tree: VirtualBrownianTree
    // Level l covers [a[l], b[l]] with node id node[l]; Wa, Wb and the midpoint value Wm are
    // stored `components` per level. Levels 0 ... valid are the path of the last query.
    @usableFromInline var a: [Double]
    @usableFromInline var b: [Double]
    @usableFromInline var node: [UInt64]
    @usableFromInline var wa: [Double]
    @usableFromInline var wb: [Double]
    @usableFromInline var wm: [Double]
    @usableFromInline var hasMidpoint: [Bool]
    @usableFromInline var valid = 0
    @usableFromInline var normals: [Double]
    // One component: the last pair drawn, for the sibling that shares it.
    @usableFromInline var cachedPairIndex = UInt64.max
    @usableFromInline var cachedPair = (0.0, 0.0)

    public init(_ tree: VirtualBrownianTree) {
        self.tree = tree
        let levels = tree.depth + 1
        let c = tree.components
        a = [Double](repeating: 0, count: levels)
        b = [Double](repeating: 0, count: levels)
        node = [UInt64](repeating: 0, count: levels)
        wa = [Double](repeating: 0, count: levels * c)
        wb = [Double](repeating: 0, count: levels * c)
        wm = [Double](repeating: 0, count: levels * c)
        hasMidpoint = [Bool](repeating: false, count: levels)
        normals = [Double](repeating: 0, count: c)
        a[0] = tree.t0
        b[0] = tree.t1
        node[0] = 1
        // W(t1) = √(t1 − t0) z₀ (no node has id 0).
        nodeNormals(0)
        let scale = (tree.t1 - tree.t0).squareRoot()
        for k in 0..<c { wb[k] = scale * normals[k] }
    }

    /// `W(t)` (then `Z(t)` with the auxiliary process) for `t` in `[t0, t1]`.
    @inlinable
    public mutating func value(at t: Double, into w: inout [Double]) throws(NoiseError) {
        let c = tree.components
        guard w.count == c else { throw .wrongLength(what: "w", expected: c, got: w.count) }
        guard t >= tree.t0 && t <= tree.t1 else { throw .timeOutOfRange(requested: t, allowed: tree.t0...tree.t1) }
        if t == tree.t0 {
            for k in 0..<c { w[k] = 0 }
            return
        }
        if t == tree.t1 {
            for k in 0..<c { w[k] = wb[k] }
            return
        }
        var l = valid
        while l > 0 && !(a[l] < t && t < b[l]) { l -= 1 }
        while true {
            let base = l * c
            if l == tree.depth {
                // Leaf: linear interpolation (t is strictly inside).
                let q = (t - a[l]) / (b[l] - a[l])
                for k in 0..<c { w[k] = wa[base + k] + q * (wb[base + k] - wa[base + k]) }
                valid = l
                return
            }
            let mid = a[l] + 0.5 * (b[l] - a[l])
            if !hasMidpoint[l] {
                nodeNormals(node[l])
                let sd = 0.5 * (b[l] - a[l]).squareRoot()
                for k in 0..<c { wm[base + k] = 0.5 * (wa[base + k] + wb[base + k]) + sd * normals[k] }
                hasMidpoint[l] = true
            }
            if t == mid {
                for k in 0..<c { w[k] = wm[base + k] }
                valid = l
                return
            }
            let child = base + c
            let childNode = t < mid ? node[l] &* 2 : node[l] &* 2 &+ 1
            if t < mid {
                a[l + 1] = a[l]
                b[l + 1] = mid
                node[l + 1] = childNode
                for k in 0..<c {
                    wa[child + k] = wa[base + k]
                    wb[child + k] = wm[base + k]
                }
            } else {
                a[l + 1] = mid
                b[l + 1] = b[l]
                node[l + 1] = childNode
                for k in 0..<c {
                    wa[child + k] = wm[base + k]
                    wb[child + k] = wb[base + k]
                }
            }
            hasMidpoint[l + 1] = false
            l += 1
        }
    }
}

extension BrownianTreeCursor {
    /// The normals `z_k` of node `k` into `normals`: with one component the `k & 1` member of the
    /// pair at index `k >> 1` (cached, so the sibling's costs nothing), otherwise the
    /// components of index `k`.
    @inlinable
    mutating func nodeNormals(_ k: UInt64) {
        let c = tree.components
        if c == 1 {
            let index = k >> 1
            if index != cachedPairIndex {
                cachedPair = tree.stream.pair(index: index, lane: 0)
                cachedPairIndex = index
            }
            normals[0] = k & 1 == 0 ? cachedPair.0 : cachedPair.1
        } else {
            tree.stream.fill(&normals, offset: 0, count: c, index: k)
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
}
