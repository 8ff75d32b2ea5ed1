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
    var hasTsit5Coefficients: Bool {
        let t5 = ButcherTableau.tsit5
        return c == t5.c && a == t5.a && b == t5.b && btilde == t5.btilde && btilde3 == nil && isFSAL
            && interpolant?.extraC.isEmpty ?? true
    }
}

extension ExplicitRKStepper {
    /// One Tsit5 step with the stage loop written out (``Kernel/tsit5``): the generic loop's
    /// arithmetic in the same order, without its run-time trip counts or the per-step pass that
    /// scales the whole tableau by `dt`. Coefficients come from `table` (the tableau above, so
    /// there is one copy of them): `A` rows at offsets 0, 1, 3, 6, 10, 15, `btilde` at 28 and
    /// `c` at 35.
    @inlinable @inline(__always)
    mutating func attemptTsit5(
        _ f: Function, _ p: [Scalar], t: Double, dt: Double, u: [Scalar], uNew: inout [Scalar],
        tolerance: ErrorScale, stats: inout SolverStats
    ) -> Double {
        let kb = uniqueStages()
        let n = self.n
        loadFirstStage(f, p, t: t, u: u, kb: kb, stats: &stats)
        let x = table.base
        let k1 = kb, k2 = kb + n, k3 = kb + 2 &* n, k4 = kb + 3 &* n
        let k5 = kb + 4 &* n, k6 = kb + 5 &* n, k7 = kb + 6 &* n
        var arg: [Scalar] = []
        var du: [Scalar] = []
        swap(&arg, &stageArg)
        swap(&du, &self.du)

        let a21 = dt * x[0]
        Self.formStage(&arg, u, n) { m, g in g + k1[m].scaled(by: a21) }
        Self.evaluate(f, p, t + x[36] * dt, arg, &du, into: k2, n)

        let (a31, a32) = (dt * x[1], dt * x[2])
        Self.formStage(&arg, u, n) { m, g in
            var g = g
            g += k1[m].scaled(by: a31)
            g += k2[m].scaled(by: a32)
            return g
        }
        Self.evaluate(f, p, t + x[37] * dt, arg, &du, into: k3, n)

        let (a41, a42, a43) = (dt * x[3], dt * x[4], dt * x[5])
        Self.formStage(&arg, u, n) { m, g in
            var g = g
            g += k1[m].scaled(by: a41)
            g += k2[m].scaled(by: a42)
            g += k3[m].scaled(by: a43)
            return g
        }
        Self.evaluate(f, p, t + x[38] * dt, arg, &du, into: k4, n)

        let (a51, a52, a53, a54) = (dt * x[6], dt * x[7], dt * x[8], dt * x[9])
        Self.formStage(&arg, u, n) { m, g in
            var g = g
            g += k1[m].scaled(by: a51)
            g += k2[m].scaled(by: a52)
            g += k3[m].scaled(by: a53)
            g += k4[m].scaled(by: a54)
            return g
        }
        Self.evaluate(f, p, t + x[39] * dt, arg, &du, into: k5, n)

        let (a61, a62, a63, a64, a65) = (dt * x[10], dt * x[11], dt * x[12], dt * x[13], dt * x[14])
        Self.formStage(&arg, u, n) { m, g in
            var g = g
            g += k1[m].scaled(by: a61)
            g += k2[m].scaled(by: a62)
            g += k3[m].scaled(by: a63)
            g += k4[m].scaled(by: a64)
            g += k5[m].scaled(by: a65)
            return g
        }
        Self.evaluate(f, p, t + x[40] * dt, arg, &du, into: k6, n)
        if tracksStiffness { for m in 0..<n { previousArg[m] = arg[m] } }

        // FSAL: the last stage's argument is the new state itself, so it is formed in `uNew`.
        let (a71, a72, a73) = (dt * x[15], dt * x[16], dt * x[17])
        let (a74, a75, a76) = (dt * x[18], dt * x[19], dt * x[20])
        Self.formStage(&uNew, u, n) { m, g in
            var g = g
            g += k1[m].scaled(by: a71)
            g += k2[m].scaled(by: a72)
            g += k3[m].scaled(by: a73)
            g += k4[m].scaled(by: a74)
            g += k5[m].scaled(by: a75)
            g += k6[m].scaled(by: a76)
            return g
        }
        Self.evaluate(f, p, t + x[41] * dt, uNew, &du, into: k7, n)
        swap(&arg, &stageArg)
        swap(&du, &self.du)
        stats.nf += 6
        if tracksStiffness {
            _stiffnessEstimate = stiffnessRatio(
                count: n, dk: { k7[$0].primal - k6[$0].primal }, dg: { uNew[$0].primal - previousArg[$0].primal })
        }

        // The embedded error estimate dt Σ btilde_j k_j and its scaled sum of squares, in the
        // same pass.
        let (e1, e2, e3, e4) = (dt * x[28], dt * x[29], dt * x[30], dt * x[31])
        let (e5, e6, e7) = (dt * x[32], dt * x[33], dt * x[34])
        var sum = 0.0
        u.withUnsafeBufferPointer { up in
            uNew.withUnsafeBufferPointer { un in
                for m in 0..<n {
                    var err = Scalar.zero
                    err += k1[m].scaled(by: e1)
                    err += k2[m].scaled(by: e2)
                    err += k3[m].scaled(by: e3)
                    err += k4[m].scaled(by: e4)
                    err += k5[m].scaled(by: e5)
                    err += k6[m].scaled(by: e6)
                    err += k7[m].scaled(by: e7)
                    let sc = tolerance.scale(m, up[m].primal, un[m].primal)
                    let inv = 1 / (sc * sc)
                    sum += err.sumOfSquaredComponents * inv
                }
            }
        }
        return ErrorScale.finish(sum, count: n, as: Scalar.self)
    }

    /// `arg[m] = stage(m, u[m])` for every component, through one pointer to each buffer.
    @inlinable @inline(__always)
    static func formStage(_ arg: inout [Scalar], _ u: [Scalar], _ n: Int, _ stage: (Int, Scalar) -> Scalar) {
        u.withUnsafeBufferPointer { up in
            arg.withUnsafeMutableBufferPointer { g in
                for m in 0..<n { g[m] = stage(m, up[m]) }
            }
        }
    }

    /// `slot = f(time, arg)`, through the `du` buffer the right-hand side writes.
    @inlinable @inline(__always)
    static func evaluate(
        _ f: Function, _ p: [Scalar], _ time: Double, _ arg: [Scalar], _ du: inout [Scalar],
        into slot: UnsafeMutablePointer<Scalar>, _ n: Int
    ) {
        f(&du, arg, p, Scalar(time))
        du.withUnsafeBufferPointer { d in
            for m in 0..<n { slot[m] = d[m] }
        }
    }
}
