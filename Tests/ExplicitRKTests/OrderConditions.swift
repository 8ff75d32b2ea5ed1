import ExplicitRK

// The Runge-Kutta order conditions over rooted trees (Butcher; Hairer, Nørsett & Wanner I,
// §II.2): a method has order p when `Σ_i b_i Φ_i(t) = 1/γ(t)` for every rooted tree t with at most
// p vertices, and a continuous extension `b_i(θ) = Σ_j B_ij θ^j` has order q when
// `Σ_i B_ij Φ_i(t) = δ_{j,|t|} / γ(t)` for every power j and every tree with at most q vertices.

/// A rooted tree in canonical form: its subtrees, sorted by their canonical text.
struct RootedTree: Hashable {
    let children: [RootedTree]
    let key: String

    init(_ children: [RootedTree]) {
        let sorted = children.sorted { $0.key < $1.key }
        self.children = sorted
        key = "[" + sorted.map(\.key).joined() + "]"
    }

    var order: Int { 1 + children.reduce(0) { $0 + $1.order } }

    /// The density γ(t) = |t| Π γ(child).
    var density: Double { children.reduce(Double(order)) { $0 * $1.density } }

    /// Every tree made by attaching one new leaf to a vertex of this one.
    func withOneMoreLeaf() -> [RootedTree] {
        var result = [RootedTree(children + [RootedTree([])])]
        for (i, child) in children.enumerated() {
            for grown in child.withOneMoreLeaf() {
                var c = children
                c[i] = grown
                result.append(RootedTree(c))
            }
        }
        return result
    }

    /// All rooted trees with 1 ... `maxOrder` vertices, grouped by order (index = order).
    static func all(upTo maxOrder: Int) -> [[RootedTree]] {
        var byOrder: [[RootedTree]] = [[], [RootedTree([])]]
        if maxOrder < 2 { return byOrder }
        for _ in 2...maxOrder {
            var seen = Set<String>()
            var next: [RootedTree] = []
            for t in byOrder.last! {
                for g in t.withOneMoreLeaf() where seen.insert(g.key).inserted { next.append(g) }
            }
            byOrder.append(next)
        }
        return byOrder
    }
}

/// Stage weights `Φ_i(t)` of a (possibly extended) coupling matrix, memoised per tree.
struct ElementaryWeights {
    let a: [[Double]]
    private var cache: [String: [Double]] = [:]

    init(a: [[Double]]) { self.a = a }

    mutating func phi(_ t: RootedTree) -> [Double] {
        if let v = cache[t.key] { return v }
        let s = a.count
        var v = [Double](repeating: 1, count: s)
        for child in t.children {
            let p = phi(child)
            for i in 0..<s {
                var acc = 0.0
                for j in 0..<a[i].count { acc += a[i][j] * p[j] }
                v[i] *= acc
            }
        }
        cache[t.key] = v
        return v
    }
}

/// Largest residual of the order conditions of order `n`, each relative to the size of the terms
/// it sums (so that coefficients rounded to Double leave residuals near 1e-16).
func relativeOrderResidual(_ weights: [Double], _ phi: inout ElementaryWeights, trees: [RootedTree]) -> Double {
    var worst = 0.0
    for t in trees {
        let p = phi.phi(t)
        var sum = 0.0, size = 1 / t.density
        for i in weights.indices {
            sum += weights[i] * p[i]
            size += abs(weights[i] * p[i])
        }
        worst = max(worst, abs(sum - 1 / t.density) / size)
    }
    return worst
}

/// The same for a continuous extension: every power of θ separately.
func relativeInterpolantResidual(_ ext: ContinuousExtension, _ phi: inout ElementaryWeights, trees: [RootedTree]) -> Double {
    let degree = ext.coefficients.map(\.count).max() ?? 0
    var worst = 0.0
    for t in trees {
        let p = phi.phi(t)
        for j in 0..<degree {
            let target = t.order == j + 1 ? 1 / t.density : 0
            var sum = 0.0, size = abs(target) + 1e-3
            for (i, poly) in ext.coefficients.enumerated() where j < poly.count {
                sum += poly[j] * p[i]
                size += abs(poly[j] * p[i])
            }
            worst = max(worst, abs(sum - target) / size)
        }
    }
    return worst
}
