import DiffEqCore

/// Every check on an SDE problem and method, before any work (the pattern of DiffEqCore's
/// `SolveSetup`): shapes, finiteness at the initial point, the noise kind against the method,
/// and the additivity an additive method relies on.
public enum SDESetup {
    /// Throws the first problem found; returns normally when `method` can integrate `problem`.
    public static func validate<F: SDEFunction>(_ problem: SDEProblem<F>, _ method: SDEScheme) throws(SDEError) {
        let n = problem.u0.count
        guard n > 0 else { throw .emptyState }
        for (i, x) in problem.u0.enumerated() where !x.isFiniteScalar { throw .nonFiniteInitialState(component: i) }
        let (t0, t1) = problem.tspan
        guard t0.isFinite, t1.isFinite, t0 != t1 else { throw .invalidTimeSpan(t0: t0, t1: t1) }
        if case .general(let m) = problem.noise, m < 1 { throw .invalidWienerCount(m) }
        if let why = method.unsupportedReason(problem.noise) {
            throw .unsupportedNoise(method: method.name, noise: problem.noise.description, why: why)
        }
        let t = F.Scalar(t0)
        var du = [F.Scalar](repeating: .zero, count: n)
        problem.f.drift(&du, problem.u0, problem.p, t)
        guard du.count == n else { throw .wrongOutputLength(what: "drift", expected: n, got: du.count) }
        for (i, x) in du.enumerated() where !x.isFiniteScalar { throw .nonFiniteDrift(component: i) }
        let glen = problem.noise.diffusionLength(states: n)
        var g = [F.Scalar](repeating: .zero, count: glen)
        problem.f.diffusion(&g, problem.u0, problem.p, t)
        guard g.count == glen else { throw .wrongOutputLength(what: "diffusion", expected: glen, got: g.count) }
        for (i, x) in g.enumerated() where !x.isFiniteScalar { throw .nonFiniteDiffusion(component: i) }
        if problem.noise == .additive {
            // A necessary condition, cheap to check: g at a second, clearly different state. An
            // additive method applied to multiplicative noise silently loses its order, so a
            // mis-declared problem is refused rather than solved wrongly.
            var shifted = problem.u0
            for i in 0..<n { shifted[i] = shifted[i] + shifted[i].scaled(by: 0.5) + F.Scalar(1.0) }
            var g2 = [F.Scalar](repeating: .zero, count: glen)
            problem.f.diffusion(&g2, shifted, problem.p, t)
            guard g2.count == glen else { throw .wrongOutputLength(what: "diffusion", expected: glen, got: g2.count) }
            for i in 0..<glen where g2[i].primal != g[i].primal { throw .diffusionNotAdditive(component: i) }
        }
    }

    /// Throws unless `δ`, the weight of the drift term in the adaptive methods' error estimate
    /// `δ E₁ + E₂` (`driftErrorWeight:` of `solve`), is finite and ≥ 0.
    public static func validate(driftErrorWeight δ: Double) throws(SDEError) {
        guard δ.isFinite, δ >= 0 else {
            throw .invalidOptions(.invalidStepOption("the drift error weight δ must be finite and ≥ 0, got \(δ)"))
        }
    }
}
