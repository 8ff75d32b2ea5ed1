import DiffEqCore

/// POLLU: the chemistry of the RIVM air-pollution model, 25 reactions among 20 species with
/// mass-action rates `r_j = k_j [A]` or `r_j = k_j [A][B]`, `p = [k₁, …, k₂₅]`.
///
/// The state is ordered as ``Species`` (the test set's `y₁ … y₂₀`). The right-hand side and the
/// Jacobian are both generated from one reaction table (``reactions``), written as the reaction
/// scheme of the test set's Figure II.2.1; its rates are those of Table II.2.1. Nitrogen and
/// sulphur are conserved: `[NO2] + [NO] + [PAN] + [HNO3] + [NO3] + 2[N2O5]` and `[SO2] + [SO4]`.
///
/// References: J. G. Verwer, "Gauss-Seidel iteration for stiff ODEs from chemical kinetics",
/// SIAM J. Sci. Comput. 15 (1994) 1243-1259; F. Mazzia and C. Magherini, Test Set for Initial
/// Value Problem Solvers, release 2.4 (2008), problem POLLU (§II.2).
public struct Pollution: ODEModel, Sendable {
    public init() {}

    /// The species, in state order (`u[Species.o3.rawValue]` is [O3]).
    public enum Species: Int, CaseIterable, Sendable {
        case no2, no, o3p, o3, ho2, oh, hcho, co, ald, meo2
        case c2o3, co2, pan, ch3o, hno3, o1d, so2, so4, no3, n2o5
    }

    /// One reaction: one or two reactants (consumed once each) and its products (a species
    /// listed twice is produced twice).
    public struct Reaction: Sendable {
        public let reactants: [Int]
        public let products: [Int]

        init(_ reactants: Species..., to products: [Species]) {
            self.reactants = reactants.map(\.rawValue)
            self.products = products.map(\.rawValue)
        }
    }

    /// The reaction scheme; reaction `j` (from 1) has rate constant `p[j-1]`.
    public static let reactions: [Reaction] = [
        Reaction(.no2, to: [.no, .o3p]),  // 1
        Reaction(.no, .o3, to: [.no2]),  // 2
        Reaction(.ho2, .no, to: [.no2, .oh]),  // 3
        Reaction(.hcho, to: [.ho2, .ho2, .co]),  // 4
        Reaction(.hcho, to: [.co]),  // 5
        Reaction(.hcho, .oh, to: [.ho2, .co]),  // 6
        Reaction(.ald, to: [.meo2, .ho2, .co]),  // 7
        Reaction(.ald, .oh, to: [.c2o3]),  // 8
        Reaction(.c2o3, .no, to: [.no2, .meo2, .co2]),  // 9
        Reaction(.c2o3, .no2, to: [.pan]),  // 10
        Reaction(.pan, to: [.c2o3, .no2]),  // 11
        Reaction(.meo2, .no, to: [.ch3o, .no2]),  // 12
        Reaction(.ch3o, to: [.hcho, .ho2]),  // 13
        Reaction(.no2, .oh, to: [.hno3]),  // 14
        Reaction(.o3p, to: [.o3]),  // 15
        Reaction(.o3, to: [.o1d]),  // 16
        Reaction(.o3, to: [.o3p]),  // 17
        Reaction(.o1d, to: [.oh, .oh]),  // 18
        Reaction(.o1d, to: [.o3p]),  // 19
        Reaction(.so2, .oh, to: [.so4, .ho2]),  // 20
        Reaction(.no3, to: [.no]),  // 21
        Reaction(.no3, to: [.no2, .o3p]),  // 22
        Reaction(.no2, .o3, to: [.no3]),  // 23
        Reaction(.no3, .no2, to: [.n2o5]),  // 24
        Reaction(.n2o5, to: [.no3, .no2]),  // 25
    ]

    /// ``reactions`` flattened for evaluation: reaction `j`'s reactants are `reactant1[j]` and
    /// `reactant2[j]` (−1 for a first-order reaction), its products
    /// `products[productStart[j] ..< productStart[j + 1]]`. The right-hand side and the Jacobian
    /// walk these three integer arrays instead of the `Reaction` values, whose two arrays each
    /// would be retained and released for every reaction of every evaluation (measured: well
    /// over a third of a POLLU solve, for every solver alike).
    @usableFromInline
    struct Table: Sendable {
        @usableFromInline let reactant1: [Int]
        @usableFromInline let reactant2: [Int]
        @usableFromInline let productStart: [Int]
        @usableFromInline let products: [Int]

        init(_ reactions: [Reaction]) {
            reactant1 = reactions.map { $0.reactants[0] }
            reactant2 = reactions.map { $0.reactants.count == 2 ? $0.reactants[1] : -1 }
            var start = [0]
            for r in reactions { start.append(start[start.count - 1] + r.products.count) }
            productStart = start
            products = reactions.flatMap(\.products)
        }

        /// The four arrays as buffers, for the evaluation loops.
        @inlinable @inline(__always)
        func withBuffers<R>(
            _ body: (
                _ reactant1: UnsafeBufferPointer<Int>, _ reactant2: UnsafeBufferPointer<Int>,
                _ productStart: UnsafeBufferPointer<Int>, _ products: UnsafeBufferPointer<Int>
            ) -> R
        ) -> R {
            reactant1.withUnsafeBufferPointer { r1 in
                reactant2.withUnsafeBufferPointer { r2 in
                    productStart.withUnsafeBufferPointer { start in
                        products.withUnsafeBufferPointer { products in body(r1, r2, start, products) }
                    }
                }
            }
        }
    }

    @usableFromInline static let table = Table(reactions)

    // The operations and their order are those of the reaction scheme read left to right: the
    // rate k_j [A] [B], subtracted from each reactant, added to each product.
    @inlinable
    public func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        for i in du.indices { du[i] = 0 }
        Self.table.withBuffers { r1, r2, start, products in
            for j in 0..<r1.count {
                let a = r1[j], b = r2[j]
                var rate = p[j] * u[a]
                if b >= 0 { rate *= u[b] }
                du[a] -= rate
                if b >= 0 { du[b] -= rate }
                for k in start[j]..<start[j + 1] { du[products[k]] += rate }
            }
        }
    }

    public var hasAnalyticJacobian: Bool { true }
    public var isAutonomous: Bool { true }

    // ∂r_j/∂u_c for each reactant c is k_j times the other reactant (or k_j alone); it enters
    // column c with the reaction's stoichiometry.
    @inlinable
    public func jacobian<S: DiffEqScalar>(_ J: inout [S], _ u: [S], _ p: [S], _ t: S) {
        let n = u.count
        for k in 0..<(n * n) { J[k] = 0 }
        Self.table.withBuffers { r1, r2, start, products in
            for j in 0..<r1.count {
                let a = r1[j], b = r2[j]
                // Column c = a (derivative k_j [B], or k_j), then c = b (k_j [A]).
                for index in 0..<(b >= 0 ? 2 : 1) {
                    let c = index == 0 ? a : b
                    var dRate = p[j]
                    if b >= 0 { dRate *= u[index == 0 ? b : a] }
                    J[a + c * n] -= dRate
                    if b >= 0 { J[b + c * n] -= dRate }
                    for k in start[j]..<start[j + 1] { J[products[k] + c * n] += dRate }
                }
            }
        }
    }
}

extension TestProblems {
    /// POLLU with the rate constants of the test set's Table II.2.2, the initial state
    /// `[NO] = 0.2, [O3] = 0.04, [HCHO] = 0.1, [CO] = 0.3, [ALD] = 0.01, [SO2] = 0.007` (all others
    /// 0) on `[0, 60]`.
    public static func pollution<S: DiffEqScalar>(_ scalar: S.Type = Double.self)
        -> ODEProblem<GenericRHS<Pollution, S>>
    {
        // Table II.2.2 (k₃ = 0.123e5 is the corrected value; Verwer's paper has a typing error).
        let k: [S] = [
            0.35, 0.266e2, 0.123e5, 0.86e-3, 0.82e-3, 0.15e5, 0.13e-3, 0.24e5, 0.165e5, 0.9e4,
            0.22e-1, 0.12e5, 0.188e1, 0.163e5, 0.48e7, 0.35e-3, 0.175e-1, 0.1e9, 0.444e12, 0.124e4,
            0.21e1, 0.578e1, 0.474e-1, 0.178e4, 0.312e1,
        ]
        var u0 = [S](repeating: 0, count: Pollution.Species.allCases.count)
        u0[Pollution.Species.no.rawValue] = 0.2
        u0[Pollution.Species.o3.rawValue] = 0.04
        u0[Pollution.Species.hcho.rawValue] = 0.1
        u0[Pollution.Species.co.rawValue] = 0.3
        u0[Pollution.Species.ald.rawValue] = 0.01
        u0[Pollution.Species.so2.rawValue] = 0.007
        return ODEProblem(model: Pollution(), u0: u0, tspan: (0, 60), p: k)
    }

    /// The reference solution of POLLU at t = 60.
    public static let pollutionReference = ReferenceSolution(
        t: 60,
        u: [
            0.5646255480022769e-01, 0.1342484130422339e+00, 0.4139734331099427e-08, 0.5523140207484359e-02,
            0.2018977262302196e-06, 0.1464541863493966e-06, 0.7784249118997964e-01, 0.3245075353396018e+00,
            0.7494013383880406e-02, 0.1622293157301561e-07, 0.1135863833257075e-07, 0.2230505975721359e-02,
            0.2087162882798630e-03, 0.1396921016840158e-04, 0.8964884856898295e-02, 0.4352846369330103e-17,
            0.6899219696263405e-02, 0.1007803037365946e-03, 0.1772146513969984e-05, 0.5682943292316392e-04,
        ],
        source: "F. Mazzia and C. Magherini, Test Set for Initial Value Problem Solvers, release 2.4 "
            + "(University of Bari, 2008), problem POLLU, Table II.2.4 (computed with RADAU5 on a Cray C90, "
            + "uround = 1.01e-19, rtol = atol = h0 = 1.1e-18); same digits in subroutine solut of pollu.f")

    /// Test-set settings of POLLU: `reltol = 10^-(5+m/4)`, `m = 0...32`, `abstol = reltol`,
    /// `h0 = reltol`.
    public static let pollutionInfo = TestProblemInfo(
        name: "POLLU", isStiff: true, reltolExponentOffset: 5, reltolSteps: 32, abstolPerReltol: 1,
        initialStepPerReltol: 1,
        source: "Mazzia & Magherini, Test Set for IVP Solvers, release 2.4, problem POLLU, §II.2.4")
}
