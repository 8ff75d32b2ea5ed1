import DiffEqCore

/// Tsitouras' 5(4) pair with its free fourth-order interpolant: seven stages, FSAL, the
/// default non-stiff method of DifferentialEquations.jl.
///
/// Ch. Tsitouras, "Runge-Kutta pairs of order 5(4) satisfying only the first column
/// simplifying assumption", Computers & Mathematics with Applications 62 (2011) 770-775.
public struct Tsit5: ExplicitRKAlgorithm {
    public init() {}
    public var tableau: ButcherTableau { .tsit5 }
}

extension ButcherTableau {
    /// Tsitouras (2011), Table "5(4) pair": coefficients to the precision published there
    /// (rounded to Double). The interpolation weights are the paper's polynomials `b_i(θ)`
    /// expanded in powers of θ.
    public static let tsit5: ButcherTableau = {
        let c: [Double] = [0, 0.161, 0.327, 0.9, 0.9800255409045096857298102862870245954942, 1, 1]
        let a: [[Double]] = [
            [],
            [0.161],
            [-0.008480655492356988544426874250230774675121, 0.3354806554923569885444268742502307746751],
            [2.897153057105493432130432594192938764925, -6.359448489975074843148159912383825625953,
             4.362295432869581411017727318190886861028],
            [5.325864828439256604428877920840511317836, -11.74888356406282787774717033978577296189,
             7.495539342889836208304604784564358155659, -0.09249506636175524925650207933207191611350],
            [5.861455442946420028659251486982647890394, -12.92096931784710929170611868178335939542,
             8.159367898576158643180400794539253485182, -0.07158497328140099722453054252582973869127,
             -0.02826905039406838290900305721271224146718],
            [0.09646076681806522951816731316512876333712, 0.01, 0.4798896504144995747752495322905965199130,
             1.379008574103741893192274821856872770756, -3.290069515436080679901047585711363850116,
             2.324710524099773982415355918398765796109],
        ]
        let b: [Double] = a[6] + [0]
        // Embedded fourth-order weights b̂ (Tsitouras 2011); btilde = b - b̂.
        let bhat: [Double] = [
            0.09468075576583945807478876255758922856118, 0.009183565540343253096776363936645313759814,
            0.4877705284247615707855642599631228241517, 1.234297566930478985655109673884237654036,
            -2.707712349983525454881109975059321670690, 1.866628418170587035753719399566211498666,
            1.0 / 66,
        ]
        let btilde = zip(b, bhat).map { $0 - $1 }
        let interpolant = ContinuousExtension(
            order: 4,
            coefficients: [
                [1.0, -2.763706197274826, 2.9132554618219126, -1.0530884977290216],
                [0.0, 0.13169999999999998, -0.2234, 0.1017],
                [0.0, 3.9302962368947516, -5.941033872131505, 2.490627285651253],
                [0.0, -12.411077166933676, 30.33818863028232, -16.548102889244902],
                [0.0, 37.50931341651104, -88.1789048947664, 47.37952196281928],
                [0.0, -27.896526289197286, 65.09189467479366, -34.87065786149661],
                [0.0, 1.5, -4.0, 2.5],
            ])
        // Validated on construction; a failure here is a typo in the coefficients above, which
        // the tableau tests report with the failing check.
        return try! ButcherTableau(
            name: "Tsit5", order: 5, embeddedOrder: 4, c: c, a: a, b: b, btilde: btilde, isFSAL: true,
            interpolant: interpolant)
    }()
}

extension ButcherTableau {
    /// Whether this is Tsit5's tableau, coefficient for coefficient (whatever its name): the
    /// steppers then run their written-out Tsit5 stage sequence.
    @usableFromInline var hasTsit5Coefficients: Bool {
        let t5 = ButcherTableau.tsit5
        if storage === t5.storage { return true }
        return c == t5.c && a == t5.a && b == t5.b && btilde == t5.btilde && btilde3 == nil && isFSAL
            && interpolant?.extraC.isEmpty ?? true
    }
}

extension ExplicitRKStepper {
    /// One Tsit5 step with the stage loop written out (``Kernel/tsit5``): the generic loop's
    /// arithmetic in the same order, with constant stage counts. Coefficients come from `table`
    /// (the tableau above, so there is one copy of them): `btilde` at 28.
    @inlinable @inline(__always)
    mutating func attemptTsit5(
        _ f: Function, _ p: Parameters, t: Double, dt: Double, u: State, uNew: inout State,
        tolerance: ErrorScale, stats: inout SolverStats
    ) -> Double {
        let k = uniqueStages()
        loadFirstStage(f, p, t: t, u: u, k: k, stats: &stats)
        let x = table.base
        var arg = State.takeScratch(&stageArg)
        var du = State.takeScratch(&self.du)
        // Stage i sums i stages, a constant count here: the fused combinations unroll.
        stage(1, f, p, t: t, dt: dt, u: u, k: k, arg: &arg, du: &du)
        stage(2, f, p, t: t, dt: dt, u: u, k: k, arg: &arg, du: &du)
        stage(3, f, p, t: t, dt: dt, u: u, k: k, arg: &arg, du: &du)
        stage(4, f, p, t: t, dt: dt, u: u, k: k, arg: &arg, du: &du)
        stage(5, f, p, t: t, dt: dt, u: u, k: k, arg: &arg, du: &du)
        if tracksStiffness { previousArg.copyComponents(from: arg) }
        // FSAL: the last stage's argument is the new state itself, so it is formed in `uNew`.
        stage(6, f, p, t: t, dt: dt, u: u, k: k, arg: &uNew, du: &du)
        State.returnScratch(&arg, to: &stageArg)
        State.returnScratch(&du, to: &self.du)
        stats.nf += 6
        if tracksStiffness { estimateStiffness(lastArgument: uNew) }
        // The error is estimated even when the solve is not adaptive: the loop then looks only
        // at its finiteness, which catches a non-finite last stage `f(t + dt, uNew)` in this
        // step rather than the next.
        let sum = State.weightedStageSumOfSquares(
            stages: k, coefficients: x + 28, scale: dt, count: 7, from: u, to: uNew, abstol: abstol,
            tolerance: tolerance)
        return ErrorScale.finish(sum, count: u.count, as: Scalar.self)
    }
}
