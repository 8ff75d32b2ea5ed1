// Adaptive SDE solves on the shared loop: the error against the analytic solution follows the
// tolerance; rejections do not bias the Brownian path (RSwM, Kolmogorov–Smirnov); the same path
// gives the same bits however its values are delivered; bad input gives typed errors or return
// codes with messages.
import DiffEqCore
import Foundation
import RandomStreams
import StochasticDE
import Testing

/// A noise process that forgets rejected draws (every proposal drawn afresh, `W` and `Z`): the
/// control for the RSwM test.
struct ForgetfulNoise: NoiseProcess {
    let stream: NormalStream
    var draws: UInt64 = 0
    var now = 0.0
    var proposed = 0.0
    var w = 0.0
    var pendingW = 0.0
    var wienerCount: Int { 1 }
    var hasAuxiliary: Bool { true }
    var currentTime: Double { now }
    mutating func increment(to t1: Double, _ dW: inout [Double], _ dZ: inout [Double]) throws(NoiseError) {
        let s = (t1 - now).squareRoot()
        let (a, b) = stream.pair(index: draws, lane: 0)
        draws += 1
        dW[0] = s * a
        dZ[0] = s * b
        pendingW = w + dW[0]
        proposed = t1
    }
    mutating func accept() throws(NoiseError) {
        now = proposed
        w = pendingW
    }
}

/// A tree noise that records every time it was asked for, with `W` and `Z` there.
struct RecordingTreeNoise: NoiseProcess {
    var inner: BrownianTreeNoise
    let tree: VirtualBrownianTree
    var record: [Double: [Double]] = [:]
    init(_ tree: VirtualBrownianTree) {
        self.tree = tree
        inner = BrownianTreeNoise(tree)
        record[tree.t0] = [Double](repeating: 0, count: tree.components)
    }
    var wienerCount: Int { inner.wienerCount }
    var hasAuxiliary: Bool { inner.hasAuxiliary }
    var currentTime: Double { inner.currentTime }
    mutating func increment(to t1: Double, _ dW: inout [Double], _ dZ: inout [Double]) throws(NoiseError) {
        try inner.increment(to: t1, &dW, &dZ)
        var w = [Double](repeating: 0, count: tree.components)
        try tree.value(at: t1, into: &w)
        record[t1] = w
    }
    mutating func accept() throws(NoiseError) { try inner.accept() }
}

@Suite struct SDEAdaptiveSolveTests {
    /// Where a test's Brownian paths come from: the ``WienerProcess`` of the seed (drawn as the
    /// steps ask, RSwM on rejections) or the ``VirtualBrownianTree`` of the seed with leaves of
    /// 2⁻³⁰ (far below the steps, so that no step end falls inside a leaf's interpolation).
    enum PathSource: String, CaseIterable, Sendable {
        case wiener, tree
    }

    /// Per tolerance (reltol = abstol), over `paths` seeds: the mean of the largest
    /// |u(t) − exact(W(t), t)| over the saved times after t0 (t = 1 only without `saveat`), the
    /// mean accepted steps, and the rejections in all.
    static func adaptiveErrors<F: SDEFunction>(
        _ prob: SDEProblem<F>, _ alg: some SDEAlgorithm, tolerances: [Double], paths: Int, source: PathSource = .wiener,
        saveat: [Double]? = nil, exact: (_ w: Double, _ t: Double) -> Double
    ) throws -> (errors: [Double], steps: [Double], rejections: Int) where F.Scalar == Double {
        var errors = [Double](repeating: 0, count: tolerances.count)
        var steps = [Double](repeating: 0, count: tolerances.count)
        var rejections = 0
        let auxiliary = alg.scheme.needsAuxiliaryIncrement
        for seed in 0..<paths {
            for (k, tol) in tolerances.enumerated() {
                let options = SolveOptions(
                    reltol: tol, abstol: .scalar(tol), saveat: saveat.map { .times($0) }, saveEverystep: false, maxiters: 10_000_000)
                let sol: ODESolution<Double>
                let w: (Double) throws -> Double
                switch source {
                case .wiener:
                    let noise = try WienerProcess(dimension: 1, seed: UInt64(seed), auxiliary: auxiliary)
                    var integrator = try makeIntegrator(prob, alg, noise: noise, options: options)
                    sol = integrator.solve()
                    var path = integrator.method.noise
                    w = { t in
                        var v = [0.0]
                        try path.value(at: t, into: &v)
                        return v[0]
                    }
                case .tree:
                    let tree = try VirtualBrownianTree(
                        t0: 0, t1: 1, dimension: 1, seed: UInt64(seed), tolerance: 0x1p-30, auxiliary: auxiliary)
                    sol = try solve(prob, alg, noise: BrownianTreeNoise(tree), options: options)
                    w = { t in
                        var v = [Double](repeating: 0, count: tree.components)
                        try tree.value(at: t, into: &v)
                        return v[0]
                    }
                }
                #expect(sol.retcode == .success)
                var worst = 0.0
                for (t, u) in zip(sol.t, sol.u) where t > prob.tspan.0 { worst = max(worst, abs(u[0] - exact(try w(t), t))) }
                errors[k] += worst / Double(paths)
                steps[k] += Double(sol.stats.naccept) / Double(paths)
                rejections += sol.stats.nreject
            }
        }
        return (errors, steps, rejections)
    }

    /// Mean errors over `paths` seeds at the `loose` tolerances and over `tightPaths` at the
    /// `tight` ones, asserting that the mean error reaches the requested tolerance at every
    /// tolerance (`error ≤ tol`: C = 1 in `error ≤ C·tol`) and falls at least as fast as it
    /// (least-squares slope of log error against log tolerance ≥ 1). What the order-1.5 methods
    /// give, measured (release build, 20 paths): error/tol from 0.19 at 1e-2 down to 0.003 at
    /// 1e-6, slopes 1.3-1.6, on both path sources. The error falls faster than the tolerance
    /// because the steps shrink like the tolerance (see `sosriStepsGrowLikeOneOverTheTolerance`).
    /// Returns the rejections in all.
    @discardableResult
    static func expectFollowsTheTolerance<F: SDEFunction>(
        _ name: String, _ prob: SDEProblem<F>, _ alg: some SDEAlgorithm, loose: [Double], paths: Int, tight: [Double] = [],
        tightPaths: Int = 1, source: PathSource, saveat: [Double]? = nil, exact: (_ w: Double, _ t: Double) -> Double
    ) throws -> Int where F.Scalar == Double {
        let a = try adaptiveErrors(prob, alg, tolerances: loose, paths: paths, source: source, saveat: saveat, exact: exact)
        let b = try adaptiveErrors(prob, alg, tolerances: tight, paths: tightPaths, source: source, saveat: saveat, exact: exact)
        let (tolerances, errors, steps) = (loose + tight, a.errors + b.errors, a.steps + b.steps)
        let context = "\(name) on the \(source.rawValue) path: tolerances \(tolerances), mean errors \(errors), mean steps \(steps)"
        for (tol, e) in zip(tolerances, errors) { #expect(e <= tol, "tolerance \(tol): \(context)") }
        let slope = fittedOrder(dts: tolerances, errors: errors)
        #expect(slope >= 1, "slope \(slope): \(context)")
        return a.rejections + b.rejections
    }

    /// SOSRI on GBM, 1e-2 ... 1e-5 on both path sources. Measured mean errors (release, 20
    /// paths, Wiener): 1.9e-3, 1.0e-4, 2.6e-6, 6.2e-8 in 61, 487, 4579, 47030 steps (tree:
    /// 1.2e-3, 7.2e-5, 1.9e-6, 6.9e-8). Here 10 paths, and 1e-5 on one (47,000 steps; the
    /// largest single-path error in those 20 was 2.7e-7, 0.03 tol).
    @Test(arguments: PathSource.allCases) func sosriOnGBMFollowsTheTolerance(source: PathSource) throws {
        let rejections = try Self.expectFollowsTheTolerance(
            "SOSRI, GBM", gbmScalarProblem, SOSRI(), loose: [1e-2, 1e-3, 1e-4], paths: 10, tight: [1e-5], source: source
        ) { GBM.ito($0, t: $1) }
        #expect(rejections > 0)
    }

    /// SOSRI on the cubic, 1e-2 ... 1e-6. Measured (release, 20 paths, Wiener): 1.5e-3, 1.3e-4,
    /// 4.5e-6, 1.8e-7, 7.5e-9 in 26, 77, 629, 5776, 60204 steps; tree alike. Here 10 paths,
    /// and 1e-6 on one (largest single-path error in those 20: 2.0e-8, 0.02 tol).
    @Test(arguments: PathSource.allCases) func sosriOnTheCubicFollowsTheTolerance(source: PathSource) throws {
        try Self.expectFollowsTheTolerance(
            "SOSRI, cubic", cubicProblem, SOSRI(), loose: [1e-2, 1e-3, 1e-4, 1e-5], paths: 10, tight: [1e-6], source: source
        ) { w, _ in Cubic.exact(w) }
    }

    /// SOSRA on the additive problem (α = 10, so that the noise matters), 1e-2 ... 1e-5.
    /// Measured (release, 20 paths, Wiener): 8.0e-5, 2.5e-6, 4.1e-8, 2.1e-9 in 34, 132, 1145,
    /// 11204 steps; tree alike. Here 10 paths, 1e-5 on three.
    @Test(arguments: PathSource.allCases) func sosraOnTheAdditiveProblemFollowsTheTolerance(source: PathSource) throws {
        try Self.expectFollowsTheTolerance(
            "SOSRA, additive", loudAdditiveProblem, SOSRA(), loose: [1e-2, 1e-3, 1e-4], paths: 10, tight: [1e-5], tightPaths: 3,
            source: source
        ) { loudAdditiveModel.exact($0, t: $1) }
    }

    /// Saved values inside the span follow the tolerance too: an adaptive SDE solve steps onto
    /// its `saveat` times (an SDE solution between step ends is only a linear interpolation, off
    /// by O(‖g‖√h)). The case that showed it: SOSRI on GBM on the tree of seed 3 with leaves of
    /// 2⁻²⁰, reltol = abstol = 1e-4, saved at 0.5 and 1: u(0.5) was 5.4e-4 from the closed form
    /// (2,570 steps; 2.8e-4 at 1e-6 after 256,712 steps) while u(1), a step end, was 1.6e-6; now
    /// u(0.5) is 1.3e-6 (2,571 steps). Over 20 paths, saved at 1/4, 1/2, 3/4, 1: mean largest
    /// error 1.5e-3, 7.6e-5, 2.0e-6 at 1e-2, 1e-3, 1e-4 (tree, release build); here 10 paths.
    @Test(arguments: PathSource.allCases) func savedValuesFollowTheTolerance(source: PathSource) throws {
        try Self.expectFollowsTheTolerance(
            "SOSRI, GBM, saveat", gbmScalarProblem, SOSRI(), loose: [1e-2, 1e-3, 1e-4], paths: 10, source: source,
            saveat: [0.25, 0.5, 0.75, 1]
        ) { GBM.ito($0, t: $1) }

        let tree = try VirtualBrownianTree(t0: 0, t1: 1, dimension: 1, seed: 3, tolerance: 0x1p-20, auxiliary: true)
        let sol = try solve(
            gbmScalarProblem, SOSRI(), noise: BrownianTreeNoise(tree), options: SolveOptions(reltol: 1e-4, abstol: 1e-4, saveat: .times([0.5, 1])))
        #expect(sol.t == [0.5, 1])
        var w = [0.0, 0.0]
        try tree.value(at: 0.5, into: &w)
        let error = abs(sol.u[0][0] - GBM.ito(w[0], t: 0.5))
        #expect(error <= 1e-5, "u(0.5) is \(error) from the closed form after \(sol.stats.naccept) steps")
    }

    /// Why the order-1.5 methods take about as many steps as tolerance⁻¹: the error estimate of
    /// Rackauckas & Nie (2017, §3), `δ E₁ + E₂` with StochasticDiffEq's δ = 1/6, has a drift
    /// part `E₁ = h Σᵢ fᵢ` that is O(h), not a difference of two approximations, so on a problem
    /// with a drift of size |f| it asks for `h ≈ tol/(δ s |f|)` whatever the noise. Measured on
    /// GBM (release, 20 paths, Wiener; steps and mean error at t = 1 per tolerance 1e-2 ... 1e-6):
    /// δ = 1/6: 61, 487, 4579, 47030, 504299 steps, error/tol 0.19 ... 0.003; δ = 0 (`E₂`
    /// alone, the order-1.5 minus order-1 difference): 39, 127, 542, 2448, 11353 steps,
    /// error/tol 0.66 ... 0.99 (44x fewer steps at 1e-6, error still within the tolerance). The
    /// published estimator is kept as the default (users cross-check against StochasticDiffEq;
    /// without `E₁` a solve with small noise has no error control at all); the test pins the
    /// growth so that a change of the estimator shows here.
    @Test func sosriStepsGrowLikeOneOverTheTolerance() throws {
        let (_, steps, _) = try Self.adaptiveErrors(
            gbmScalarProblem, SOSRI(), tolerances: [1e-3, 1e-4], paths: 4) { GBM.ito($0, t: $1) }
        let growth = steps[1] / steps[0]
        #expect(growth > 8 && growth < 12, "mean steps \(steps): ×\(growth) for a tenfold tighter tolerance")
    }

    /// With `driftErrorWeight: 0.01` (δ of the estimate) SOSRI on GBM takes far fewer steps and
    /// still reaches the tolerance: measured (release, 20 paths, Wiener) mean error 0.66, 0.74,
    /// 0.71, 0.44 tol at 1e-2 ... 1e-5 in 46, 179, 676, 3152 steps (δ = 1/6: 61, 487, 4579,
    /// 47030). Asserted on 10 tree paths at 1e-3 and 1e-4: error ≤ tol and under half the
    /// default's steps. Measured here (debug): mean error 2.2e-4 and 4.3e-5 in 163 and 625 steps
    /// against the default's 408 and 4041. A negative δ is a typed error.
    @Test func aSmallerDriftErrorWeightTakesFewerSteps() throws {
        var errors = [0.0, 0.0], steps = [0.0, 0.0], defaultSteps = [0.0, 0.0]
        let paths = 10
        for seed in 0..<paths {
            for (k, tol) in [1e-3, 1e-4].enumerated() {
                let options = SolveOptions(reltol: tol, abstol: .scalar(tol), saveEverystep: false)
                let tree = try VirtualBrownianTree(t0: 0, t1: 1, dimension: 1, seed: UInt64(seed), tolerance: 0x1p-30, auxiliary: true)
                let sol = try solve(gbmScalarProblem, SOSRI(), noise: BrownianTreeNoise(tree), options: options, driftErrorWeight: 0.01)
                let reference = try solve(gbmScalarProblem, SOSRI(), noise: BrownianTreeNoise(tree), options: options)
                var w = [0.0, 0.0]
                try tree.value(at: 1, into: &w)
                errors[k] += abs(sol.u.last![0] - GBM.ito(w[0])) / Double(paths)
                steps[k] += Double(sol.stats.naccept) / Double(paths)
                defaultSteps[k] += Double(reference.stats.naccept) / Double(paths)
            }
        }
        for (k, tol) in [1e-3, 1e-4].enumerated() {
            #expect(errors[k] <= tol, "tolerance \(tol): mean errors \(errors), steps \(steps), default \(defaultSteps)")
            #expect(steps[k] < defaultSteps[k] / 2, "steps \(steps), default \(defaultSteps)")
        }
        #expect(throws: SDEError.invalidOptions(.invalidStepOption("the drift error weight δ must be finite and ≥ 0, got -1.0"))) {
            try solve(gbmScalarProblem, SOSRI(), noise: BrownianTreeNoise(try VirtualBrownianTree(
                t0: 0, t1: 1, dimension: 1, seed: 1, tolerance: 1e-6, auxiliary: true)), driftErrorWeight: -1)
        }
    }

    /// `driftErrorWeight` on the seeded solves is the one of `solve(noise:)` on the same Wiener
    /// process (same bits), and a solve that runs out of steps says what to raise: SOSRI on GBM
    /// at 1e-4 takes about 4,000 steps with the default δ (see
    /// `sosriStepsGrowLikeOneOverTheTolerance`), so 1,000 stop it.
    @Test func seededSolvesTakeTheDriftErrorWeightAndMaxItersSaysWhatToRaise() throws {
        let options = SolveOptions(reltol: 1e-3, abstol: 1e-3, saveEverystep: false)
        let seeded = try solve(gbmScalarProblem, SOSRI(), seed: 4, options: options, driftErrorWeight: 0.01)
        let noise = try WienerProcess(dimension: 1, seed: 4, auxiliary: true, keepsHistory: false)
        let explicit = try solve(gbmScalarProblem, SOSRI(), noise: noise, options: options, driftErrorWeight: 0.01)
        let standard = try solve(gbmScalarProblem, SOSRI(), seed: 4, options: options)
        #expect(seeded.u == explicit.u && seeded.t == explicit.t)
        #expect(seeded.stats.naccept < standard.stats.naccept, "δ = 0.01: \(seeded.stats), δ = 1/6: \(standard.stats)")
        var problem = gbmScalarProblem
        problem.seed = 4
        #expect(try solve(problem, SOSRI(), options: options, driftErrorWeight: 0.01).u == seeded.u)

        let short = SolveOptions(reltol: 1e-4, abstol: 1e-4, saveEverystep: false, maxiters: 1_000)
        let stopped = try solve(gbmScalarProblem, SOSRI(), seed: 4, options: short)
        #expect(stopped.retcode == .maxIters)
        let message = stopped.message ?? ""
        #expect(message.contains("raise SolveOptions.maxiters") && message.contains("driftErrorWeight"), "\(message)")
        #expect(throws: SDEError.self) { try solve(gbmScalarProblem, SOSRI(), seed: 4, options: options, driftErrorWeight: .infinity) }
    }

    static let rswmPaths = 2000

    /// An integral controller that lets the step grow tenfold: with StochasticDiffEq's default
    /// (growth at most 9/8 per step) the steps on these problems are limited by the growth and
    /// are almost never rejected (0.02 rejections per solve at tolerance 0.01, measured), which
    /// would leave RSwM untested.
    static let rejectingOptions = SolveOptions(
        reltol: 0.05, abstol: 0.05, saveEverystep: false, controller: .integral(IController(qmax: 10)))

    /// W(1) over many adaptive solves (SOSRI on GBM, tolerance 0.05, ``rejectingOptions``: steps
    /// are rejected because of large increments) is N(0, 1): one-sample Kolmogorov–Smirnov at level α = 0.001, i.e.
    /// an unbiased sampler fails this with probability 0.1 % (the seeds are fixed, so the test
    /// is deterministic). The control with a process that forgets rejected draws fails it.
    @Test func rejectionsDoNotBiasThePath() throws {
        var finals: [Double] = []
        var rejections = 0
        let options = Self.rejectingOptions
        for seed in 0..<Self.rswmPaths {
            let noise = try WienerProcess(dimension: 1, seed: UInt64(seed), auxiliary: true, keepsHistory: false)
            var integrator = try makeIntegrator(gbmScalarProblem, SOSRI(), noise: noise, options: options)
            let sol = integrator.solve()
            #expect(sol.retcode == .success)
            rejections += sol.stats.nreject
            var w = [0.0]
            var path = integrator.method.noise
            try path.value(at: 1, into: &w)
            finals.append(w[0])
        }
        #expect(rejections > Self.rswmPaths, "rejections \(rejections)")
        let d = ksStatistic(finals)
        #expect(d < ksCritical(finals.count), "KS D = \(d), critical \(ksCritical(finals.count)), rejections \(rejections)")

        var forgetful: [Double] = []
        for seed in 0..<Self.rswmPaths {
            let noise = ForgetfulNoise(stream: NormalStream(seed: UInt64(seed), domain: 77))
            var integrator = try makeIntegrator(gbmScalarProblem, SOSRI(), noise: noise, options: options)
            _ = integrator.solve()
            forgetful.append(integrator.method.noise.w)
        }
        let dForgetful = ksStatistic(forgetful)
        #expect(dForgetful > ksCritical(forgetful.count), "forgetting rejected draws should be detected: D = \(dForgetful)")
    }

    /// The same path gives the same solution bit for bit, whether its values are drawn step by
    /// step (with bridges for the rejected steps' retries), given as a grid, or read from the tree.
    @Test func samePathSameBits() throws {
        let options = SolveOptions(reltol: 1e-2, abstol: 1e-2, controller: .integral(IController(qmax: 10)))
        // Drawn as the adaptive solve asks (fresh draws and bridges), then replayed from a grid.
        let noise = try WienerProcess(dimension: 1, seed: 42, auxiliary: true)
        var integrator = try makeIntegrator(gbmScalarProblem, SOSRI(), noise: noise, options: options)
        let drawn = integrator.solve()
        #expect(drawn.stats.nreject > 0)
        let grid = try NoiseGrid(recordedWithAuxiliaryFrom: integrator.method.noise)
        let replayed = try solve(gbmScalarProblem, SOSRI(), noise: grid, options: options)
        #expect(replayed.t == drawn.t)
        #expect(replayed.u == drawn.u)
        #expect(replayed.stats == drawn.stats)
        // Same seed again: the same bits.
        let again = try solve(gbmScalarProblem, SOSRI(), noise: try WienerProcess(dimension: 1, seed: 42, auxiliary: true), options: options)
        #expect(again.u == drawn.u)

        // Points drawn first by the bridge (coarse values asked before the solve), then a
        // fixed-step EM solve through them, and its replay from the recorded grid.
        var bridged = try WienerProcess(dimension: 1, seed: 9)
        var w = [0.0]
        for t in [1.0, 0.5, 0.25, 0.75] { try bridged.value(at: t, into: &w) }
        var emIntegrator = try makeIntegrator(gbmScalarProblem, EM(), noise: bridged, options: SolveOptions(dt: 1.0 / 16, adaptive: false))
        let em = emIntegrator.solve()
        let emGrid = try NoiseGrid(recordedFrom: emIntegrator.method.noise)
        let emReplay = try solve(gbmScalarProblem, EM(), noise: emGrid, options: SolveOptions(dt: 1.0 / 16, adaptive: false))
        #expect(em.u == emReplay.u)

        // From the tree, adaptively, and replayed from a grid of the tree's values at every
        // time the solve asked for.
        let tree = try VirtualBrownianTree(t0: 0, t1: 1, dimension: 1, seed: 5, tolerance: 1e-9, auxiliary: true)
        var treeIntegrator = try makeIntegrator(gbmScalarProblem, SOSRI(), noise: RecordingTreeNoise(tree), options: options)
        let fromTree = treeIntegrator.solve()
        #expect(fromTree.stats.nreject > 0)
        let record = treeIntegrator.method.noise.record
        let times = record.keys.sorted()
        let treeGrid = try NoiseGrid(
            times: times, values: times.map { record[$0]![0] }, auxiliaryValues: times.map { record[$0]![1] })
        let treeReplay = try solve(gbmScalarProblem, SOSRI(), noise: treeGrid, options: options)
        #expect(treeReplay.t == fromTree.t)
        #expect(treeReplay.u == fromTree.u)
        let treeAgain = try solve(gbmScalarProblem, SOSRI(), noise: BrownianTreeNoise(tree), options: options)
        #expect(treeAgain.u == fromTree.u)
    }
}

@Suite struct SDESolveInputTests {
    static let options = SolveOptions(reltol: 1e-2, abstol: 1e-2)

    @Test func diffusionOfTheWrongShape() {
        let prob = SDEProblem<SDEClosures<Double>>(
            f: { du, u, _, _ in du[0] = u[0]; du[1] = u[1] }, g: { g, _, _, _ in g = [1.0] }, u0: [1, 1], tspan: (0, 1))
        #expect(throws: SDEError.wrongOutputLength(what: "diffusion", expected: 2, got: 1)) {
            try solve(prob, SOSRI(), seed: 1, options: Self.options)
        }
    }

    @Test func noiseKindTheMethodDoesNotSupport() {
        #expect {
            try solve(generalProblem, SRIW1(), seed: 1, options: Self.options)
        } throws: { error in
            guard case SDEError.unsupportedNoise(let method, _, _) = error else { return false }
            return method == "SRIW1"
        }
        #expect {
            try solve(gbmScalarProblem, SOSRA(), seed: 1, options: Self.options)
        } throws: { error in
            guard case SDEError.unsupportedNoise = error else { return false }
            return true
        }
    }

    @Test func nanFromTheDriftOrTheDiffusionEndsTheSolveWithAMessage() throws {
        let nanDrift = SDEProblem<SDEClosures<Double>>(
            f: { du, u, _, t in du[0] = t > 0.5 ? .nan : u[0] }, g: { g, u, _, _ in g[0] = 0.1 * u[0] },
            u0: [1], tspan: (0, 1))
        let nanDiffusion = SDEProblem<SDEClosures<Double>>(
            f: { du, u, _, _ in du[0] = u[0] }, g: { g, u, _, t in g[0] = t > 0.5 ? .nan : 0.1 * u[0] },
            u0: [1], tspan: (0, 1))
        for alg in [SOSRI() as any SDEAlgorithm, SRIW1()] {
            let a = try solve(nanDrift, alg, seed: 1, options: Self.options)
            #expect(a.retcode == .unstable)
            #expect(a.message?.contains("drift") == true, "\(a.message ?? "")")
            // The last accepted step may end past 0.5 without evaluating f there (SRI stages
            // sample the drift at t and t + c h only).
            #expect(a.t.last! < 0.6 && a.t.last! > 0.4)
            let b = try solve(nanDiffusion, alg, seed: 1, options: Self.options)
            #expect(b.retcode == .unstable)
            #expect(b.message?.contains("diffusion") == true, "\(b.message ?? "")")
        }
        // Fixed steps: the first step past 0.5 ends the solve.
        let c = try solve(nanDiffusion, EM(), seed: 1, options: SolveOptions(dt: 0.1, adaptive: false))
        #expect(c.retcode == .unstable)
        #expect(c.message?.contains("diffusion") == true, "\(c.message ?? "")")
    }

    @Test func optionsAndNoiseAreChecked() throws {
        #expect(throws: SDEError.invalidOptions(.invalidStepOption("EM is a fixed-step method: give dt"))) {
            try solve(gbmScalarProblem, EM(), seed: 1)
        }
        #expect(throws: SDEError.invalidOptions(.invalidRelativeTolerance(-1))) {
            try solve(gbmScalarProblem, SOSRI(), seed: 1, options: SolveOptions(reltol: -1))
        }
        let backward = SDEProblem(model: GBM(), u0: [0.5], tspan: (1, 0), p: gbmParameters)
        #expect(throws: SDEError.invalidOptions(.invalidTimeSpan(t0: 1, t1: 0))) {
            try solve(backward, SOSRI(), seed: 1, options: Self.options)
        }
        #expect {
            try solve(gbmScalarProblem, SOSRI(), noise: try WienerProcess(dimension: 1, seed: 1), options: Self.options)
        } throws: { error in
            guard case SDEError.noiseMismatch = error else { return false }
            return true
        }
        #expect {
            try solve(gbm4Problem, EM(), noise: try WienerProcess(dimension: 2, seed: 1), options: SolveOptions(dt: 0.1, adaptive: false))
        } throws: { error in
            guard case SDEError.noiseMismatch = error else { return false }
            return true
        }
        #expect {
            try solve(gbmScalarProblem, EM(), noise: try WienerProcess(dimension: 1, t0: 0.5, seed: 1), options: SolveOptions(dt: 0.1, adaptive: false))
        } throws: { error in
            guard case SDEError.noiseMismatch = error else { return false }
            return true
        }
        // An adaptive solve adds the saveat times to its stops: a bad one is still the loop's
        // typed error, and a stop given twice (as a tstop and a save time) is taken once.
        let adaptive = SolveOptions(reltol: 1e-2, abstol: 1e-2, saveat: .times([2]))
        #expect(throws: SDEError.invalidOptions(.invalidSaveAt("time 2.0 lies outside the span (0.0, 1.0)"))) {
            try solve(gbmScalarProblem, SOSRI(), seed: 1, options: adaptive)
        }
        let twice = try solve(gbmScalarProblem, SOSRI(), seed: 1, options: SolveOptions(reltol: 1e-2, abstol: 1e-2, saveat: .times([0.5]), tstops: [0.5]))
        #expect(twice.retcode == .success && twice.t == [0.5])
        // A tree shorter than the span: the solve stops where the noise ends, with its reason.
        let short = try VirtualBrownianTree(t0: 0, t1: 0.5, dimension: 1, seed: 1, tolerance: 1e-6)
        let sol = try solve(gbmScalarProblem, EM(), noise: BrownianTreeNoise(short), options: SolveOptions(dt: 0.125, adaptive: false))
        #expect(!sol.retcode.isSuccessful)
        #expect(sol.message?.contains("noise") == true, "\(sol.message ?? "")")
        #expect(sol.t.last! == 0.5)
    }
}
