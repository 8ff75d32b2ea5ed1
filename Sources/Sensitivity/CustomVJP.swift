import DiffEqCore

/// A model that supplies its own vector-Jacobian products `vᵀ∂f/∂u`, `vᵀ∂f/∂p`, which every
/// adjoint method (``InterpolatingAdjoint``, ``QuadratureAdjoint``, ``BacksolveAdjoint``,
/// SensitivityCVODES's `CVODESAdjoint`) then uses instead of the reverse-mode tape or dual numbers.
///
/// A neural network written with hand-written pullbacks (the NeuralDE module's `NetworkRHS`) is
/// the intended user: its products through BLAS cost about as much as one evaluation, with no
/// tape to record. The generic ``ODEModel/rhs(_:_:_:_:)`` must still be implemented for every
/// scalar, since forward-mode methods and stiff Jacobians run it on dual numbers.
///
/// Each gradient makes one workspace with ``makeVJPWorkspace(stateCount:parameters:)`` and passes
/// it to every product, so a product need not allocate and one model value can serve gradients
/// on several threads. A ``GradientContext`` makes it once and keeps it for all its gradients,
/// at parameters that change between calls: a workspace may depend on the sizes, never on the
/// values of `p` (each product receives `p`).
public protocol ODEModelWithVJP: ODEModel {
    associatedtype VJPWorkspace
    /// The buffers of one gradient's products.
    func makeVJPWorkspace(stateCount n: Int, parameters p: [Double]) -> VJPWorkspace
    /// Writes `vᵀ∂f/∂u` at `(u, p, t)` into `du` (length `n`) and `vᵀ∂f/∂p` into `dp`
    /// (length `p.count`), overwriting both.
    func vjp(
        _ workspace: inout VJPWorkspace, u: UnsafeBufferPointer<Double>, p: UnsafeBufferPointer<Double>, t: Double,
        v: UnsafeBufferPointer<Double>, du: UnsafeMutableBufferPointer<Double>, dp: UnsafeMutableBufferPointer<Double>)

    /// Writes `vᵀ∂f/∂u` alone into `du` and returns `true` when the model has a product cheaper
    /// than ``vjp(_:u:p:t:v:du:dp:)`` for it (the quadrature adjoint's backward solve needs no
    /// `vᵀ∂f/∂p`); the default returns `false`, and the caller then calls `vjp`.
    func stateVJP(
        _ workspace: inout VJPWorkspace, u: UnsafeBufferPointer<Double>, p: UnsafeBufferPointer<Double>, t: Double,
        v: UnsafeBufferPointer<Double>, du: UnsafeMutableBufferPointer<Double>) -> Bool

    /// Evaluates `f(u, p, t)` into `du`, keeps in `workspace` under `slot` what a later
    /// ``vjp(_:kept:u:p:t:v:du:dp:)`` at the same point needs, and returns `true`; the default
    /// keeps nothing and returns `false` (the caller then evaluates `f` itself).
    /// ``DiscreteAdjoint`` evaluates a step's stages in order into slots `0, 1, …` and then takes
    /// their products in reverse order: a network keeps its activations and its product is the
    /// pullback alone, not a second forward pass.
    func rhs(
        _ workspace: inout VJPWorkspace, keeping slot: Int, u: UnsafeBufferPointer<Double>,
        p: UnsafeBufferPointer<Double>, t: Double, du: UnsafeMutableBufferPointer<Double>) -> Bool

    /// ``vjp(_:u:p:t:v:du:dp:)`` at the point of slot `slot`'s latest kept evaluation (`u`, `p`
    /// and `t` are that evaluation's); the default is ``vjp(_:u:p:t:v:du:dp:)`` itself.
    func vjp(
        _ workspace: inout VJPWorkspace, kept slot: Int, u: UnsafeBufferPointer<Double>,
        p: UnsafeBufferPointer<Double>, t: Double, v: UnsafeBufferPointer<Double>,
        du: UnsafeMutableBufferPointer<Double>, dp: UnsafeMutableBufferPointer<Double>)
}

extension ODEModelWithVJP {
    public func stateVJP(
        _ workspace: inout VJPWorkspace, u: UnsafeBufferPointer<Double>, p: UnsafeBufferPointer<Double>, t: Double,
        v: UnsafeBufferPointer<Double>, du: UnsafeMutableBufferPointer<Double>
    ) -> Bool { false }

    public func rhs(
        _ workspace: inout VJPWorkspace, keeping slot: Int, u: UnsafeBufferPointer<Double>,
        p: UnsafeBufferPointer<Double>, t: Double, du: UnsafeMutableBufferPointer<Double>
    ) -> Bool { false }

    public func vjp(
        _ workspace: inout VJPWorkspace, kept slot: Int, u: UnsafeBufferPointer<Double>,
        p: UnsafeBufferPointer<Double>, t: Double, v: UnsafeBufferPointer<Double>,
        du: UnsafeMutableBufferPointer<Double>, dp: UnsafeMutableBufferPointer<Double>
    ) {
        vjp(&workspace, u: u, p: p, t: t, v: v, du: du, dp: dp)
    }
}

/// A model's own products behind one class (a virtual call per product), found once per
/// gradient by the protocol check in `_VJPEngine`.
@usableFromInline
class _CustomVJP {
    @usableFromInline init() {}
    @usableFromInline
    func vjp(_ u: [Double], _ p: [Double], _ t: Double, _ v: [Double], _ du: inout [Double], _ dp: inout [Double]) {
        fatalError("abstract")
    }

    /// `vᵀ∂f/∂u` into `du`; `dp` is overwritten when the model has no state-only product.
    @usableFromInline
    func stateVJP(_ u: [Double], _ p: [Double], _ t: Double, _ v: [Double], _ du: inout [Double], _ dp: inout [Double]) {
        fatalError("abstract")
    }

    /// `f` into `du`, kept under `slot` for ``keptVJP(_:_:_:_:_:_:_:)``; `false` when the model
    /// keeps nothing (then `du` is untouched).
    @usableFromInline
    func keptRHS(_ slot: Int, _ u: [Double], _ p: [Double], _ t: Double, _ du: inout [Double]) -> Bool {
        fatalError("abstract")
    }

    @usableFromInline
    func keptVJP(
        _ slot: Int, _ u: [Double], _ p: [Double], _ t: Double, _ v: [Double], _ du: inout [Double],
        _ dp: inout [Double]
    ) {
        fatalError("abstract")
    }
}

@usableFromInline
final class _ModelVJP<M: ODEModelWithVJP>: _CustomVJP {
    @usableFromInline let model: M
    /// Unchecked exclusivity: one gradient's products run on one thread, one at a time.
    @exclusivity(unchecked) @usableFromInline var workspace: M.VJPWorkspace

    @usableFromInline
    init(_ model: M, n: Int, p: [Double]) {
        self.model = model
        self.workspace = model.makeVJPWorkspace(stateCount: n, parameters: p)
    }

    @usableFromInline
    override func vjp(
        _ u: [Double], _ p: [Double], _ t: Double, _ v: [Double], _ du: inout [Double], _ dp: inout [Double]
    ) {
        u.withUnsafeBufferPointer { u in
            p.withUnsafeBufferPointer { p in
                v.withUnsafeBufferPointer { v in
                    du.withUnsafeMutableBufferPointer { du in
                        dp.withUnsafeMutableBufferPointer { dp in
                            model.vjp(&workspace, u: u, p: p, t: t, v: v, du: du, dp: dp)
                        }
                    }
                }
            }
        }
    }

    @usableFromInline
    override func stateVJP(
        _ u: [Double], _ p: [Double], _ t: Double, _ v: [Double], _ du: inout [Double], _ dp: inout [Double]
    ) {
        let done = u.withUnsafeBufferPointer { u in
            p.withUnsafeBufferPointer { p in
                v.withUnsafeBufferPointer { v in
                    du.withUnsafeMutableBufferPointer { du in
                        model.stateVJP(&workspace, u: u, p: p, t: t, v: v, du: du)
                    }
                }
            }
        }
        if !done { vjp(u, p, t, v, &du, &dp) }
    }

    @usableFromInline
    override func keptRHS(_ slot: Int, _ u: [Double], _ p: [Double], _ t: Double, _ du: inout [Double]) -> Bool {
        u.withUnsafeBufferPointer { u in
            p.withUnsafeBufferPointer { p in
                du.withUnsafeMutableBufferPointer { du in
                    model.rhs(&workspace, keeping: slot, u: u, p: p, t: t, du: du)
                }
            }
        }
    }

    @usableFromInline
    override func keptVJP(
        _ slot: Int, _ u: [Double], _ p: [Double], _ t: Double, _ v: [Double], _ du: inout [Double],
        _ dp: inout [Double]
    ) {
        u.withUnsafeBufferPointer { u in
            p.withUnsafeBufferPointer { p in
                v.withUnsafeBufferPointer { v in
                    du.withUnsafeMutableBufferPointer { du in
                        dp.withUnsafeMutableBufferPointer { dp in
                            model.vjp(&workspace, kept: slot, u: u, p: p, t: t, v: v, du: du, dp: dp)
                        }
                    }
                }
            }
        }
    }
}

/// The model's own products when it conforms to ``ODEModelWithVJP`` (a check against the
/// protocol, not against any concrete type), else `nil`.
@inlinable
func _customVJP<Model: ODEModel>(_ model: Model, n: Int, p: [Double]) -> _CustomVJP? {
    guard let custom = model as? any ODEModelWithVJP else { return nil }
    return _openCustomVJP(custom, n: n, p: p)
}

@inlinable
func _openCustomVJP<M: ODEModelWithVJP>(_ model: M, n: Int, p: [Double]) -> _CustomVJP {
    _ModelVJP(model, n: n, p: p)
}
