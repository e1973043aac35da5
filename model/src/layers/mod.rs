//! The model's layers, in the order a waveform meets them: the sinc filterbank ([`sinc`]), the
//! temporal stage ([`modulation`]: modulation filters or the max-pool baseline), the front-end
//! that joins them with the nonlinearities and the norm ([`frontend`]), and the 2-D ResNet with
//! its head ([`resnet`]). Their heavy operations are [`crate::kernels`]'.

pub mod frontend;
pub mod modulation;
pub mod resnet;
pub mod sinc;
