public import DiffEqCore
public import Sensitivity
public import StochasticDE

/// The stochastic adjoint of Li, Wong, Chen & Duvenaud, "Scalable gradients for stochastic
/// differential equations", AISTATS 2020 (arXiv:2001.01328): the pathwise gradient from one
/// backward solve of the augmented Stratonovich SDE for `(u, a, a_p)` on the same Brownian path,
/// read from a ``VirtualBrownianTree``, so that memory does not grow with the number of steps.
///
/// **Which variant, and why.** The backsolve variant (the paper's §3): the
/// state `u` is integrated backward with the adjoint rather than kept from the forward pass (the
/// interpolating variant stores every forward step, which is the memory the method exists to
/// avoid). What is stored is one state per observation time: the backward pass restarts `u` from
/// the forward state there (as Sensitivity's `BacksolveAdjoint(checkpointing: true)` does), so
/// the reconstruction error of `u` cannot accumulate across observations. The Brownian tree
/// gives `W(t)` at any time from the seed in `O(depth)` memory (the paper's §4).
///
/// **The backward system.** With `b` the Stratonovich drift and `G` the noise-rate matrix of the
/// forward SDE `du = b dt + G ∘ dW`, the flow's derivatives satisfy, backward in time on the same
/// path (the paper's §3; a Stratonovich SDE reverses by negating drift and diffusion),
///
///     u(t) = u(T) − ∫ₜᵀ b ds − ∫ₜᵀ G ∘ dW,
///     a(t) = a(T) + ∫ₜᵀ aᵀ∂b/∂u ds + Σⱼ ∫ₜᵀ aᵀ∂G_·j/∂u ∘ dWⱼ,
///     a_p(t) = ∫ₜᵀ aᵀ∂b/∂p ds + Σⱼ ∫ₜᵀ aᵀ∂G_·j/∂p ∘ dWⱼ,
///
/// with `a` jumping by `∂g/∂u(u(t_k))` at each observation time; `dL/du0 = a(t0)`,
/// `dL/dp = a_p(t0)`.
///
/// **Itô problems.** When the forward method is Itô (``EM``, ``SRIW1``, ``SOSRI``, ...), the
/// forward SDE `du = f dt + G dW` is first written in Stratonovich form, `b = f − ½c` with
/// `c_i = Σ_j Σ_k (∂G_ij/∂u_k) G_kj` (Kloeden & Platen 1992, §4.9; the paper's §3 states the adjoint for the Stratonovich form). The
/// correction is applied to the drift of the backward system only, and is differentiated with
/// the rest of `b` (nested dual numbers), so parameters in the diffusion get their share through
/// it. Additive noise has `c = 0`.
///
/// **Backward method.** Stochastic Heun (``EulerHeun``'s scheme, Stratonovich) on the augmented
/// system with fixed steps of at most ``dt`` between observation times: strong order 1 for
/// commutative noise, 0.5 in general (Kloeden & Platen 1992, ch. 10-11). Scalar noise is
/// commutative; so is the augmented system of diagonal noise whose `g_i` depends on `u_i` (and
/// `p`, `t`) only: its `j`-th noise column depends on `u_j`, `a_j` alone and moves only `u_j`,
/// `a_j`, `a_p`, so the derivative of one column along another vanishes. The
/// gradient therefore converges to the exact pathwise derivative at order 1 in the step, and
/// differs from the derivative of the discrete forward solve (``SDEForwardDiffSensitivity``) by
/// the discretisation errors of both passes.
///
/// Cost: one forward solve, then per backward step two evaluations of the products of
/// `φ = b h + G ΔW` (with duals, `⌈(n + np)/8⌉` evaluations of `f` and `g` each; with an
/// ``SDEModelWithVJP``, one drift and one diffusion product). Memory: the observation states
/// plus a fixed number of state-sized buffers and the tree's cursor, whatever the number of steps
/// (``SensitivityStats/peakStoredStates`` counts the observation states).
///
/// Performance: the backward step allocates nothing (the products' dual buffers, the Itô
/// correction's nested-dual buffers and the tree's cursor are made once per gradient); the
/// tree's cursor keeps the last root-to-leaf path, so stepping backward costs about one normal
/// pair per step, as forward. The observation loss gradients (`PointLoss.valueAndGradient`)
/// allocate one dual array per observation. Measured nowhere yet against another library.
public struct SDEBacksolveAdjoint: SDESensitivityAlgorithm {
    /// The largest backward step; `nil` takes the forward options' `dt` (required then).
    public var dt: Double?

    public init(dt: Double? = nil) { self.dt = dt }

    public var name: String { "SDEBacksolveAdjoint" }

    @inlinable
    public func gradient<M: SDEModel, L: PointLoss, A: SDEAlgorithm>(
        of loss: L, _ problem: SDEProblem<GenericSDE<M, Double>>, algorithm: A, noise tree: VirtualBrownianTree,
        plan: SDEObservationPlan
    ) throws(SensitivityError) -> SensitivityResult {
        guard let h = dt ?? plan.options.dt, h.isFinite, h > 0 else {
            throw .invalidInput(.invalidStepOption(
                "SDEBacksolveAdjoint needs a backward step: pass SDEBacksolveAdjoint(dt:) or options.dt (positive, finite)"))
        }
        // Int(Double) traps beyond Int's range: refuse a step count no solve can take.
        guard (plan.t1 - plan.t0) / h <= 1e12 else {
            throw .invalidInput(.invalidStepOption("SDEBacksolveAdjoint's step \(h) needs more than 10¹² steps on [\(plan.t0), \(plan.t1)]"))
        }
        let n = problem.u0.count
        let np = problem.p.count
        let model = problem.f.model
        let scheme = algorithm.scheme
        let corrected = scheme.interpretation == .ito && problem.noise != .additive
        if corrected && model is any SDEModelWithVJP {
            throw .unsupported(
                "\(scheme.name) is an Itô method, and the adjoint of an Itô SDE needs second derivatives of the diffusion, "
                    + "which a model's own products (SDEModelWithVJP) cannot give: use a Stratonovich method (EulerHeun, "
                    + "RKMil(interpretation: .stratonovich))")
        }
        let forward = try _observingSDESolve(problem, algorithm, tree, plan, phase: "forward")
        var stats = SensitivityStats(forward: forward.stats)
        let products = _SDEProducts(model, noise: problem.noise, n: n, p: problem.p, corrected: corrected)
        let p = problem.p
        let m = problem.wienerCount

        var lossValue = 0.0
        var gradientOfLoss = [Double](repeating: 0, count: n)
        var u = [Double](repeating: 0, count: n)
        var a = u
        var ap = [Double](repeating: 0, count: np)
        // Predictor state and the two stages' products.
        var uBar = u, aBar = u, apBar = ap
        var phi1 = u, vu1 = u, vp1 = ap
        var phi2 = u, vu2 = u, vp2 = ap
        var dW = [Double](repeating: 0, count: m)
        var cursor = BrownianTreeCursor(tree)
        let components = tree.components
        var wUpper = [Double](repeating: 0, count: components)
        var wLower = wUpper

        var k = plan.times.count - 1
        while k >= 0 {
            let tk = plan.times[k]
            lossValue += loss.valueAndGradient(at: forward.u[k], tk, into: &gradientOfLoss)
            for i in 0..<n { a[i] += gradientOfLoss[i] }
            // Restart u from the stored forward state (see "Which variant").
            for i in 0..<n { u[i] = forward.u[k][i] }
            stats.checkpoints += 1
            let lower = k > 0 ? plan.times[k - 1] : plan.t0
            if tk > lower {
                let steps = Self.stepCount(tk - lower, h)
                let width = (tk - lower) / Double(steps)
                do { try cursor.value(at: tk, into: &wUpper) } catch { throw .unsupported("Brownian tree: \(error)") }
                var tb = tk
                for s in 0..<steps {
                    let ta = s == steps - 1 ? lower : tk - Double(s + 1) * width
                    do { try cursor.value(at: ta, into: &wLower) } catch { throw .unsupported("Brownian tree: \(error)") }
                    for j in 0..<m { dW[j] = wUpper[j] - wLower[j] }
                    let step = tb - ta
                    // Stochastic Heun backward over [ta, tb]: the predictor from the upper end,
                    // the corrector from the average of both ends' products.
                    products.step(u: u, p: p, t: tb, h: step, dW: dW, a: a, phi: &phi1, vu: &vu1, vp: &vp1)
                    for i in 0..<n {
                        uBar[i] = u[i] - phi1[i]
                        aBar[i] = a[i] + vu1[i]
                    }
                    for q in 0..<np { apBar[q] = ap[q] + vp1[q] }
                    products.step(u: uBar, p: p, t: ta, h: step, dW: dW, a: aBar, phi: &phi2, vu: &vu2, vp: &vp2)
                    for i in 0..<n {
                        u[i] -= 0.5 * (phi1[i] + phi2[i])
                        a[i] += 0.5 * (vu1[i] + vu2[i])
                    }
                    for q in 0..<np { ap[q] += 0.5 * (vp1[q] + vp2[q]) }
                    swap(&wUpper, &wLower)
                    tb = ta
                    stats.backwardSteps += 1
                }
            }
            k -= 1
        }
        stats.vjps = products.count
        stats.backwardEvaluations = products.count
        stats.peakStoredStates = plan.times.count
        return SensitivityResult(
            loss: lossValue, dp: ap, du0: a, stats: stats, method: name, reconstructedInitialState: u)
    }
}

extension SDEBacksolveAdjoint {
    /// The number of equal backward steps of at most `h` over an interval of `length`.
    @inlinable
    static func stepCount(_ length: Double, _ h: Double) -> Int {
        let r = length / h
        let whole = r.rounded(.down)
        return Swift.max(1, Int(whole) + (r - whole > 1e-12 ? 1 : 0))
    }
}
