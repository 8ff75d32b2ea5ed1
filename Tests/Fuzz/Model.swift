// The right-hand sides of the fuzz problems, written once over the scalar protocol so that the
// same model serves the generic form, the closure form, the fixed-size form and every sensealg.
import DiffEq

/// Calls of f so far (for faults injected at the n-th call). One case runs in one process, on
/// one thread.
final class CallCounter {
    var calls = 0
}

struct FuzzModel: ODEModel {
    let kind: ProblemKind
    let fault: Fault
    let span: (Double, Double)
    let counter: CallCounter

    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        evaluate(&du, u, p, t)
    }

    /// Past `fraction` of the span, in the direction of integration.
    func isPast(_ t: Double, _ fraction: Double) -> Bool {
        let tf = span.0 + fraction * (span.1 - span.0)
        return span.1 >= span.0 ? t >= tf : t <= tf
    }

    // Indices are taken modulo the lengths, so a model given a state or parameters of another
    // length than drawn (after a callback or a setter changed them) never traps on its own:
    // any trap is the library's.
    func evaluate<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        counter.calls += 1
        let n = Swift.min(u.count, du.count)
        func P(_ k: Int, _ fallback: Double) -> S { p.isEmpty ? S(fallback) : p[k % p.count] }
        switch kind {
        case .decay:
            for i in 0..<n { du[i] = -P(0, 1) * u[i] }
        case .diffusion:
            for i in 0..<n {
                let left = i > 0 ? u[i - 1] : S(0.0), right = i + 1 < n ? u[i + 1] : S(0.0)
                du[i] = P(0, 1) * (left - S(2.0) * u[i] + right) - P(1, 0) * u[i]
            }
        case .lotka:
            var i = 0
            while i + 1 < n {
                let x = u[i], y = u[i + 1]
                du[i] = P(0, 1.5) * x - P(1, 1) * x * y
                du[i + 1] = -P(2, 3) * y + P(3, 1) * x * y
                i += 2
            }
            if i < n { du[i] = P(0, 1) * u[i] * (S(1.0) - u[i]) }
        case .vanDerPol:
            var i = 0
            while i + 1 < n {
                let x = u[i], y = u[i + 1]
                du[i] = y
                du[i + 1] = P(0, 1) * ((S(1.0) - x * x) * y) - x
                i += 2
            }
            if i < n { du[i] = -u[i] * u[i] * u[i] }
        case .rober:
            var first = 0
            if n >= 3 {
                // Robertson (1966); rate constants 0.04, 3e7, 1e4 in p.
                let y1 = u[0], y2 = u[1], y3 = u[2]
                du[0] = -P(0, 0.04) * y1 + P(2, 1e4) * y2 * y3
                du[1] = P(0, 0.04) * y1 - P(2, 1e4) * y2 * y3 - P(1, 3e7) * y2 * y2
                du[2] = P(1, 3e7) * y2 * y2
                first = 3
            }
            for i in first..<Swift.max(first, n) { du[i] = -u[i] }
        case .blowup:
            for i in 0..<n { du[i] = P(0, 1) * u[i] * u[i] }
        case .stiffLinear:
            let scales: [Double] = [1, 10, 100, 1e3, 1e4, 1e5, 1e6]
            for i in 0..<n { du[i] = -P(0, 1) * S(scales[i % 7]) * (u[i] - S.cos(t)) }
        case .oscillator:
            for i in 0..<n { du[i] = P(0, 1) * (u[(i + 1) % n] - u[(i + n - 1) % n]) }
        }
        switch fault {
        case .none: break
        case .after(let fraction, let k, let value):
            if n > 0, isPast(t.primal, fraction) { du[k % n] = S(value) }
        case .atCall(let call, let k):
            if n > 0, counter.calls == call { du[k % n] = S(Double.nan) }
        case .resize(let fraction, let length):
            if isPast(t.primal, fraction) { du = [S](repeating: S(0.0), count: length) }
        }
    }
}

/// The losses of the gradient cases, one type interpreted at run time.
struct FuzzLoss: PointLoss {
    let kind: LossKind
    func callAsFunction<S: DiffEqScalar>(_ u: [S], _ t: Double) -> S {
        switch kind {
        case .sumOfSquares:
            var s = S(0.0)
            for x in u { s += x * x }
            return s
        case .first: return u.first ?? S(0.0)
        case .sqrtShifted: return S.sqrt((u.first ?? S(0.0)) - S(0.5))
        }
    }
}

/// A fixed-size model as a user writes one for the sizes it declares (`nil`: whatever it is
/// given): `u'_i = 10⁻⁶ p_last − u_i` over its own state and parameter counts, so on a problem
/// of other sizes it reads past the end of `u` or `p` (a trap) unless the solve refuses first.
/// The drawn parameters go in as a forcing, not a rate: Robertson's 3e7 as a decay rate made
/// an explicit method's gradient run for minutes in a debug build.
struct FuzzStaticModel: StaticODEModel {
    let declaredState: Int?
    let declaredParameters: Int?
    var stateCount: Int? { declaredState }
    var parameterCount: Int? { declaredParameters }

    func rhs<let N: Int, let P: Int, S: DiffEqScalar>(_ u: FixedVector<N, S>, _ p: FixedVector<P, S>, _ t: S)
        -> FixedVector<N, S>
    {
        let parameters = declaredParameters ?? P
        let forcing = parameters > 0 ? S(1e-6) * p[parameters - 1] : S(0.0)
        var du = u
        for i in 0..<(declaredState ?? N) { du[i] = forcing - u[i] }
        return du
    }
}
