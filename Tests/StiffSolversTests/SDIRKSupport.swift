import DiffEqCore
import Glibc
import ProblemLibrary
import StiffSolvers

/// The (E)SDIRK methods under test, with the orders the tests hold them to.
enum SDIRKMethod: String, CaseIterable, CustomStringConvertible {
    case trbdf2 = "TRBDF2"
    case kenCarp4 = "KenCarp4"
    case kvaerno5 = "Kvaerno5"

    var description: String { rawValue }

    var tableau: SDIRKTableau {
        switch self {
        case .trbdf2: return .trbdf2
        case .kenCarp4: return .kenCarp4
        case .kvaerno5: return .kvaerno5
        }
    }

    func solve<F: ODEFunction>(
        _ problem: ODEProblem<F>, options: SolveOptions, jacobian: JacobianSource = .automatic
    ) throws -> ODESolution<F.Scalar> {
        switch self {
        case .trbdf2: return try TRBDF2(jacobian: jacobian).solve(problem, options: options)
        case .kenCarp4: return try KenCarp4(jacobian: jacobian).solve(problem, options: options)
        case .kvaerno5: return try Kvaerno5(jacobian: jacobian).solve(problem, options: options)
        }
    }
}

/// The stiff problems of the IVP test set (ProblemLibrary's list; shared support in
/// StiffTestSupport.swift).
typealias SDIRKProblem = StiffTestSet

extension SDIRKMethod: StiffProblemSolver {
    func solve<F: ODEFunction>(_ problem: ODEProblem<F>, options: SolveOptions) throws -> ODESolution<F.Scalar> {
        try solve(problem, options: options, jacobian: .automatic)
    }
}

extension StiffTestSet {
    /// Solves the problem with an (E)SDIRK method at the test set's abstol.
    func solve(reltol: Double, with solver: SDIRKMethod) throws -> ODESolution<Double> {
        try solve(solver, options: options(reltol: reltol))
    }

    func solve<A: ODEAlgorithm>(reltol: Double, abstol: Double? = nil, with algorithm: A) throws -> ODESolution<Double> {
        try solve(with: algorithm, reltol: reltol, abstol: abstol)
    }
}

// MARK: - Order conditions

/// A rooted tree as the sorted list of its subtrees (the single node has none).
struct SDIRKTree: Hashable, Comparable {
    let children: [SDIRKTree]

    var order: Int { 1 + children.reduce(0) { $0 + $1.order } }
    /// The density γ(τ) = |τ| Π γ(τ_k).
    var density: Double { Double(order) * children.reduce(1.0) { $0 * $1.density } }

    static func < (a: SDIRKTree, b: SDIRKTree) -> Bool {
        if a.order != b.order { return a.order < b.order }
        if a.children.count != b.children.count { return a.children.count < b.children.count }
        for (x, y) in zip(a.children, b.children) where x != y { return x < y }
        return false
    }

    /// Every rooted tree with exactly `order` nodes (1, 1, 2, 4, 9, 20 ... of them).
    static func all(order: Int) -> [SDIRKTree] {
        if order == 1 { return [SDIRKTree(children: [])] }
        var result = Set<SDIRKTree>()
        // Children: a multiset of trees whose orders sum to order - 1, built as non-increasing lists.
        func extend(_ prefix: [SDIRKTree], remaining: Int, maxTree: SDIRKTree?) {
            if remaining == 0 {
                result.insert(SDIRKTree(children: prefix.sorted()))
                return
            }
            for q in 1...remaining {
                for t in all(order: q) where maxTree == nil || !(maxTree! < t) {
                    extend(prefix + [t], remaining: remaining - q, maxTree: t)
                }
            }
        }
        extend([], remaining: order - 1, maxTree: nil)
        return result.sorted()
    }

    /// The elementary weights Φ_i(τ) of a (lower-triangular, diagonal included) coupling matrix.
    func weights(_ a: [[Double]]) -> [Double] {
        let s = a.count
        var phi = [Double](repeating: 1, count: s)
        for child in children {
            let w = child.weights(a)
            for i in 0..<s {
                var acc = 0.0
                for j in 0..<a[i].count { acc += a[i][j] * w[j] }
                phi[i] *= acc
            }
        }
        return phi
    }
}

/// The largest defect `|Σ b_i(θ) Φ_i(τ) − θ^|τ|/γ(τ)|` over the trees of order ≤ `order`
/// (`θ = 1` for the weights of a step).
func sdirkOrderDefect(a: [[Double]], b: [Double], order: Int, theta: Double = 1) -> Double {
    var worst = 0.0
    for q in 1...order {
        for tree in SDIRKTree.all(order: q) {
            let phi = tree.weights(a)
            let lhs = zip(b, phi).reduce(0.0) { $0 + $1.0 * $1.1 }
            worst = Swift.max(worst, Swift.abs(lhs - Double.pow(theta, Double(q)) / tree.density))
        }
    }
    return worst
}

/// The interpolation weights `b_i(θ)` of a tableau's dense output.
func sdirkInterpolantWeights(_ tableau: SDIRKTableau, theta: Double) -> [Double] {
    tableau.interpolant.coefficients.map { poly in
        var acc = 0.0
        for coefficient in poly.reversed() { acc = acc * theta + coefficient }
        return acc * theta
    }
}

// MARK: - Prothero-Robinson

/// Prothero-Robinson: `u' = λ(u − φ(t)) + φ'(t)` with `φ(t) = sin t`, `p = [λ]`; the solution
/// from `u(0) = φ(0)` is `φ` for every `λ`, and `λ` sets the stiffness.
struct SDIRKProtheroRobinson: ODEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        du[0] = p[0] * (u[0] - sin(t)) + cos(t)
    }
    var hasAnalyticJacobian: Bool { true }
    func jacobian<S: DiffEqScalar>(_ J: inout [S], _ u: [S], _ p: [S], _ t: S) {
        J[0] = p[0]
    }
}

/// Observed orders `log2(e(h)/e(h/2))` of successive halvings.
func sdirkObservedOrders(_ errors: [Double]) -> [Double] {
    zip(errors, errors.dropFirst()).map { Glibc.log2($0 / $1) }
}
