/// Limited-memory BFGS (Nocedal & Wright, Numerical Optimization, 2nd ed., Algorithm 7.5, with
/// the two-loop recursion of Algorithm 7.4 for `d = -H g`) and the strong Wolfe line search.
/// The last `memory` pairs `s = x₊ - x`, `y = g₊ - g` are kept; `H₀ = γ I` with
/// `γ = sᵀy / yᵀy` of the newest pair (eq. 7.20). The first step is along `-g` with
/// α₀ = min(1, 1/‖g‖). A pair with yᵀs ≤ 0 is not stored.
///
/// Performance: O(memory · n) per step and `2 · memory · n` stored scalars.
public struct LBFGS<Scalar: NetworkScalar>: Optimizer, Sendable {
    public let memory: Int
    public var lineSearch: StrongWolfeLineSearch { search.lineSearch }
    public var iteration: Int { search.iteration }
    /// Loss-and-gradient evaluations made by the line searches.
    public var evaluations: Int { search.evaluations }
    @usableFromInline internal var search: _QuasiNewtonSearch<Scalar>
    /// Pair k occupies entries `k n ..< (k+1) n` of `s` and `y` (a ring of `memory` slots).
    @usableFromInline internal var s: [Scalar] = []
    @usableFromInline internal var y: [Scalar] = []
    @usableFromInline internal var rho: [Scalar] = []
    @usableFromInline internal var alphas: [Scalar] = []
    @usableFromInline internal var stored = 0
    @usableFromInline internal var newest = -1
    @usableFromInline internal var direction: [Scalar] = []

    /// Throws unless `memory >= 1`.
    public init(memory: Int = 10, lineSearch: StrongWolfeLineSearch? = nil) throws(OptimizationError) {
        guard memory >= 1 else {
            throw .invalidHyperparameter(name: "memory", value: Double(memory), requirement: "at least 1")
        }
        self.memory = memory
        search = try _QuasiNewtonSearch(lineSearch)
    }

    /// `direction = -H g` by the two-loop recursion (Algorithm 7.4).
    @inlinable
    internal mutating func computeDirection(_ gradient: [Scalar], n: Int) {
        for i in 0..<n { direction[i] = -gradient[i] }
        guard stored > 0 else { return }
        var k = newest
        for _ in 0..<stored {
            var a: Scalar = 0
            for i in 0..<n { a += s[k * n + i] * direction[i] }
            a *= rho[k]
            alphas[k] = a
            for i in 0..<n { direction[i] -= a * y[k * n + i] }
            k = (k + memory - 1) % memory
        }
        var sy: Scalar = 0
        var yy: Scalar = 0
        for i in 0..<n {
            sy += s[newest * n + i] * y[newest * n + i]
            yy += y[newest * n + i] * y[newest * n + i]
        }
        let gamma = sy / yy
        for i in 0..<n { direction[i] *= gamma }
        k = (newest + memory - stored + 1) % memory
        for _ in 0..<stored {
            var b: Scalar = 0
            for i in 0..<n { b += y[k * n + i] * direction[i] }
            b *= rho[k]
            let a = alphas[k]
            for i in 0..<n { direction[i] += (a - b) * s[k * n + i] }
            k = (k + 1) % memory
        }
    }

    @inlinable
    public mutating func step(
        parameters: inout [Scalar], loss: inout Scalar, gradient: inout [Scalar],
        objective: LossAndGradient<Scalar>
    ) throws -> StepOutcome {
        let n = parameters.count
        if try search.prepare(parameters, gradient) {
            s = [Scalar](repeating: 0, count: memory * n)
            y = s
            rho = [Scalar](repeating: 0, count: memory)
            alphas = rho
            direction = [Scalar](repeating: 0, count: n)
            stored = 0
            newest = -1
        }
        computeDirection(gradient, n: n)
        if gradient.allSatisfy({ $0 == 0 }) { return .stationary }
        if !(_dot(gradient, direction) < 0) {
            stored = 0
            for i in 0..<n { direction[i] = -gradient[i] }
        }
        let initialStep = stored > 0 ? 1 : min(1, 1 / Double(_dot(gradient, gradient)).squareRoot())
        guard
            let accepted = try search.search(
                parameters, loss: loss, gradient: gradient, direction: direction, initialStep: initialStep,
                objective: objective)
        else {
            return .lineSearchFailed("no step satisfies the strong Wolfe conditions along the L-BFGS direction")
        }
        var ys: Scalar = 0
        for i in 0..<n { ys += (search.trial[i] - parameters[i]) * (search.trialGradient[i] - gradient[i]) }
        if ys > 0 {
            // The slot after the newest is free or holds the oldest pair, which this replaces.
            let slot = (newest + 1) % memory
            for i in 0..<n {
                s[slot * n + i] = search.trial[i] - parameters[i]
                y[slot * n + i] = search.trialGradient[i] - gradient[i]
            }
            rho[slot] = 1 / ys
            newest = slot
            stored = min(stored + 1, memory)
        }
        search.moveToTrial(&parameters, &gradient, loss: &loss, accepted)
        return .moved
    }
}
